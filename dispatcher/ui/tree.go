package ui

import (
	"context"
	"net/url"
	"slices"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
)

// The children of an instance page form a tree: each child can be expanded in place to
// show its own first page of children (and those, theirs), named by the page's "expand"
// parameters, so the tree costs a list per expanded node and nothing for the rest.

// maxExpanded bounds the nodes one page expands.
const maxExpanded = 20

// childNode is one child in the tree, with its children when it is expanded.
type childNode struct {
	api.Status
	Expanded bool
	Children []childNode
	More     bool   // it has more children than the page shows: its own page lists them
	Error    string // listing its children failed
	Toggle   string // the page's address with this node expanded, or collapsed
}

// tree turns a page of children into nodes, expanding those named in expand (depth first,
// at most maxExpanded lists in all); page is the instance page's address and query.
func (d *Dashboard) tree(ctx context.Context, page *url.URL, children []api.Status, expand []string, budget *int) []childNode {
	nodes := make([]childNode, len(children))
	for i, c := range children {
		n := childNode{Status: c, Expanded: slices.Contains(expand, c.InstanceID)}
		n.Toggle = toggled(page, c.InstanceID, n.Expanded)
		if n.Expanded && *budget > 0 {
			*budget--
			kids, next, err := d.cfg.API.List(ctx, client.ListOptions{ParentID: c.InstanceID, PageSize: childPageSize})
			if err != nil {
				n.Error = err.Error()
			} else {
				n.Children, n.More = d.tree(ctx, page, kids, expand, budget), next != ""
			}
		}
		nodes[i] = n
	}
	return nodes
}

// toggled is page's address with id added to, or taken out of, its expand parameters.
func toggled(page *url.URL, id string, expanded bool) string {
	q := page.Query()
	ex := q["expand"]
	if expanded {
		ex = slices.DeleteFunc(slices.Clone(ex), func(s string) bool { return s == id })
	} else {
		ex = append(slices.Clone(ex), id)
	}
	q["expand"] = ex
	u := url.URL{Path: page.Path, RawQuery: q.Encode(), Fragment: "children-section"}
	return u.String()
}
