package worker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/warrenhq/warren/history"
)

// Large payloads (docs/design.md section 20). The store keeps an episode's event inputs and
// outputs over its inline limit beside the history by itself; what the worker adds is the
// messages: an outbox message whose input or output is over Config.PayloadInlineMax
// carries a ref instead, to a payload of the sending execution written with the episode
// (Episode.Payloads, before it commits), and a worker that receives a ref reads the payload
// back before it applies or runs what it carries. Small messages take none of these steps.

// offloadOutbox returns the outbox with every message's input or output over max moved to a
// payload of the execution, and those payloads.
func offloadOutbox(instanceID, executionID string, outbox []history.OutboxMessage, max int) ([]history.OutboxMessage, []history.Payload, error) {
	var ps []history.Payload
	for i := range outbox {
		m := &outbox[i]
		if len(m.Body) <= max {
			continue
		}
		var body []byte
		var err error
		if m.Kind == history.MessageKindActivity {
			var req history.ActivityRequest
			if err := json.Unmarshal(m.Body, &req); err != nil {
				return nil, nil, fmt.Errorf("reading an activity request back: %w", err)
			}
			if len(req.Input) <= max {
				continue
			}
			p := history.NewPayload(instanceID, executionID, req.Input)
			req.Input, req.InputRef, req.Version = nil, &p.Ref, history.PayloadVersion
			ps = append(ps, p)
			body, err = json.Marshal(req)
		} else {
			var cm history.ControlMessage
			if err := json.Unmarshal(m.Body, &cm); err != nil {
				return nil, nil, fmt.Errorf("reading a control message back: %w", err)
			}
			off := history.OffloadEvent(&cm.Event, instanceID, executionID, max)
			if len(off) == 0 {
				continue
			}
			ps = append(ps, off...)
			body, err = json.Marshal(cm)
		}
		if err != nil {
			return nil, nil, err
		}
		m.Body = body
	}
	return outbox, ps, nil
}

// inlineMessages puts the payloads the messages' events refer to in place, with one store
// read for the batch of an instance; messages without refs cost nothing.
func (w *Worker) inlineMessages(ctx context.Context, msgs []inbound) error {
	var refs []history.PayloadRef
	for i := range msgs {
		refs = append(refs, history.EventRefs(&msgs[i].msg.Event)...)
	}
	if len(refs) == 0 {
		return nil
	}
	data, err := w.store.GetPayloads(ctx, refs)
	if err != nil {
		return err
	}
	for i := range msgs {
		if err := history.InlineEvent(&msgs[i].msg.Event, data); err != nil {
			return err
		}
	}
	return nil
}

// activityInput is the request's input, read from the store when it is a payload.
func (w *Worker) activityInput(ctx context.Context, req history.ActivityRequest) (json.RawMessage, error) {
	if req.InputRef == nil {
		return req.Input, nil
	}
	data, err := w.store.GetPayloads(ctx, []history.PayloadRef{*req.InputRef})
	if err != nil {
		return nil, err
	}
	return data[*req.InputRef], nil
}
