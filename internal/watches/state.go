package watches

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// Fragment is a fragment (block) of a Garant document.
type Fragment struct {
	Topic, Entry int
}

var fragmentPath = regexp.MustCompile(`^/document/([1-9][0-9]{0,9})/entry/([0-9]{1,10})/?$`)

// ParseFragment reads a fragment link of Garant's front end,
// scheme://host/#/document/TOPIC/entry/ENTRY (http or https, any host: a
// link copied from a browser or answered by the search).
func ParseFragment(link string) (Fragment, error) {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.User != nil {
		return Fragment{}, errors.New("a fragment link https://internet.garant.ru/#/document/{topic}/entry/{entry}")
	}
	m := fragmentPath.FindStringSubmatch(u.Fragment)
	if m == nil {
		return Fragment{}, errors.New("a fragment link names a document and an entry: #/document/{topic}/entry/{entry}")
	}
	topic, err1 := strconv.Atoi(m[1])
	entry, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || topic > 1<<31-1 || entry > 1<<31-1 {
		return Fragment{}, errors.New("the document or entry number is too large")
	}
	return Fragment{Topic: topic, Entry: entry}, nil
}

// Link is the fragment's link under base ("": garant.DefaultDocumentBase),
// the form stored and sent to Garant.
func (f Fragment) Link(base string) string {
	if base == "" {
		base = garant.DefaultDocumentBase
	}
	return fmt.Sprintf("%s/#/document/%d/entry/%d", strings.TrimRight(base, "/"), f.Topic, f.Entry)
}

// String is "TOPIC:ENTRY", its name in the told hash.
func (f Fragment) String() string { return strconv.Itoa(f.Topic) + ":" + strconv.Itoa(f.Entry) }

// fragments parses w's stored links (canonical, so they parse).
func (w Watch) fragments() []Fragment {
	out := make([]Fragment, 0, len(w.Fragments))
	for _, link := range w.Fragments {
		if f, err := ParseFragment(link); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// toldField names what watch id was told about a document or fragment.
func toldField(id string, item fmt.Stringer) string { return id + ":" + item.String() }

type topic int

func (t topic) String() string { return strconv.Itoa(int(t)) }

// toldFields are every field of the told hash w may have.
func toldFields(w Watch) []string {
	out := make([]string, 0, len(w.Topics)+len(w.Fragments))
	for _, tp := range w.Topics {
		out = append(out, toldField(w.ID, topic(tp)))
	}
	for _, f := range w.fragments() {
		out = append(out, toldField(w.ID, f))
	}
	return out
}

// watchedTopics are the documents ws name, watched whole or by a fragment.
func watchedTopics(ws []Watch) map[int]bool {
	out := map[int]bool{}
	for _, w := range ws {
		for _, tp := range w.Topics {
			out[tp] = true
		}
		for _, f := range w.fragments() {
			out[f.Topic] = true
		}
	}
	return out
}

// sweep removes the state fields that name no watch of all (checked, told)
// or no document a watch of all names (purged).
func (m *Manager) sweep(ctx context.Context, cred string, all []Watch) error {
	fields := map[string]bool{}
	ids := map[string]bool{}
	for _, w := range all {
		ids[w.ID] = true
		for _, f := range toldFields(w) {
			fields[f] = true
		}
	}
	topics := watchedTopics(all)
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	pipe := m.Redis.Pipeline()
	checked := pipe.HKeys(rctx, key(cred, "checked"))
	told := pipe.HKeys(rctx, key(cred, "told"))
	purged := pipe.HKeys(rctx, key(cred, "purged"))
	if _, err := pipe.Exec(rctx); err != nil {
		return unavailable(err)
	}
	del := m.Redis.Pipeline()
	drop := func(k string, names []string, keep func(string) bool) {
		var gone []string
		for _, n := range names {
			if !keep(n) {
				gone = append(gone, n)
			}
		}
		if len(gone) > 0 {
			del.HDel(rctx, key(cred, k), gone...)
		}
	}
	drop("checked", checked.Val(), func(n string) bool { return ids[n] })
	drop("told", told.Val(), func(n string) bool { return fields[n] })
	drop("purged", purged.Val(), func(n string) bool { tp, err := strconv.Atoi(n); return err == nil && topics[tp] })
	if del.Len() == 0 {
		return nil
	}
	if _, err := del.Exec(rctx); err != nil {
		return unavailable(err)
	}
	return nil
}
