# The Warren hubs on the broker, for scripts/services.sh (sourced by it): `services.sh hubs`
# lists them, `services.sh delete-hubs HUB...` deletes them through rabbitmqctl, which still
# answers when AMQP does not. They ask the node rabbitmqctl reaches by default (the system
# broker), not a private node.

# rabbitmq_queue_names prints "NAME TYPE" for every queue of the default vhost. It asks the
# node through rabbitmqctl eval, which still answers when AMQP does not.
rabbitmq_queue_names() {
	local out
	out=$(timeout 60 rabbitmqctl -q eval '
		lists:foreach(fun(Q) ->
			{resource, <<"/">>, queue, N} = amqqueue:get_name(Q),
			io:format("~s ~s~n", [N, amqqueue:get_type(Q)])
		end, [Q || Q <- rabbit_amqqueue:list(), element(2, amqqueue:get_name(Q)) =:= <<"/">>]).' 2>/dev/null 9>&-) || return 1
	printf '%s\n' "$out" | grep -v '^ok$' || true
}

# hub_of reads queue names and prints each one's hub (what precedes .control.NN,
# .workitems, .deadletter, .delay.NN or .announce.NAME), or nothing for other queues.
hub_of() { sed -nE 's/^(.+)\.(control\.[0-9]+|workitems|deadletter|delay\.[0-9]+|announce\..+) .*$/\1/p'; }

hubs() {
	local names budget
	names=$(rabbitmq_queue_names) || die "hubs: rabbitmqctl eval failed; is the node running (rabbitmq-diagnostics ping)?"
	printf '%-40s %7s %7s\n' HUB QUEUES QUORUM
	printf '%s\n' "$names" | awk '
		match($1, /\.(control\.[0-9]+|workitems|deadletter|delay\.[0-9]+|announce\..+)$/) {
			hub = substr($1, 1, RSTART - 1); n[hub]++; if ($2 ~ /quorum/) q[hub]++
		}
		END { for (h in n) printf "%-40s %7d %7d\n", h, n[h], q[h] }' | sort
	budget=$(rabbitmq_budget)
	[ -z "$budget" ] || echo "file handles (limit used): $budget; every quorum queue takes 3"
}

delete_hubs() {
	[ $# -gt 0 ] || die "delete-hubs: name the hubs to delete (scripts/services.sh hubs lists them)"
	local names hub queues exchanges list
	names=$(rabbitmq_queue_names | awk '{ print $1 }') || die "delete-hubs: rabbitmqctl eval failed"
	for hub in "$@"; do
		queues=$(printf '%s\n' "$names" | awk -v h="$hub" 'index($0, h ".") == 1 { print }' | hub_of_names "$hub")
		exchanges=$(timeout 60 rabbitmqctl -q list_exchanges name --no-table-headers 2>/dev/null 9>&- |
			awk -v h="$hub" 'index($0, h ".") == 1 { print }' |
			grep -E "^$(printf '%s' "$hub" | sed 's/[.[\*^$]/\\&/g')\.(announce|delay\.deliver|delay\.[0-9]+)$" || true)
		list=$(printf '%s\n%s\n' "$queues" "$exchanges" | sed '/^$/d' | sed 's/.*/<<"&">>/' | paste -sd, -)
		if [ -z "$list" ]; then
			log "delete-hubs: no queue or exchange of hub $hub"
			continue
		fi
		timeout 300 rabbitmqctl -q eval '
			Names = ['"$list"'],
			R = fun(Kind, N) -> rabbit_misc:r(<<"/">>, Kind, N) end,
			Qs = [Q || N <- Names, {ok, Q} <- [rabbit_amqqueue:lookup(R(queue, N))]],
			[rabbit_amqqueue:delete(Q, false, false, <<"warren-services">>) || Q <- Qs],
			[rabbit_exchange:delete(R(exchange, N), false, <<"warren-services">>) || N <- Names],
			length(Qs).' 9>&- >/dev/null 2>>"$STATE/delete-hubs.log" ||
			die "delete-hubs: rabbitmqctl eval failed deleting hub $hub"
		log "delete-hubs: deleted hub $hub ($(printf '%s\n' "$queues" | sed '/^$/d' | wc -l) queues)"
	done
}

# hub_of_names HUB keeps the queue names that belong to HUB exactly.
hub_of_names() {
	local hub=$1 name
	while read -r name; do
		[ "$(printf '%s x\n' "$name" | hub_of)" = "$hub" ] && printf '%s\n' "$name"
	done
	return 0
}
