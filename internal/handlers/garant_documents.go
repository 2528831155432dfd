package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/jsonscan"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// GarantSearch searches documents; results carry absolute URLs.
func (h garantHandlers) GarantSearch(ctx context.Context, request api.GarantSearchRequestObject) (api.GarantSearchResponseObject, error) {
	if err := textBytes("body.text", request.Body.Text, garant.MaxSearchText); err != nil {
		return nil, err
	}
	c, err := h.begin(ctx, "garantSearch")
	if err != nil {
		return nil, err
	}
	b := request.Body
	req := garant.SearchRequest{Text: b.Text, Env: string(b.Env), Page: 1, IsQuery: deref(b.IsQuery), Sort: deref(b.Sort), SortOrder: deref(b.SortOrder)}
	if b.Page != nil {
		req.Page = *b.Page
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, req, garant.SearchCall(req), func(r *garant.SearchResult) api.GarantSearchResult {
		out := api.GarantSearchResult{Documents: make([]api.GarantSearchDocument, 0, len(r.Documents)),
			Page: int(r.Page), TotalDocs: int(r.TotalDocs), TotalPages: int(r.TotalPages)}
		for _, d := range r.Documents {
			out.Documents = append(out.Documents, api.GarantSearchDocument{Topic: int(d.Topic), Name: d.Name, URL: d.URL,
				AbsoluteURL: garant.AbsoluteURL(c.svc.DocumentBase, d.URL)})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, false), nil
}

// textBytes refuses a text longer than limit bytes of UTF-8: Garant counts
// its text limits in bytes, where the contract's maxLength counts
// characters (a Cyrillic letter is two bytes).
func textBytes(field, text string, limit int) error {
	if len(text) <= limit {
		return nil
	}
	return apperr.InvalidField(field, fmt.Sprintf("must be at most %d bytes of UTF-8 (Garant counts bytes; a Cyrillic letter takes 2), got %d", limit, len(text)))
}

// GarantSnippets finds the fragments of a document matching a text or
// citing a fragment.
func (h garantHandlers) GarantSnippets(ctx context.Context, request api.GarantSnippetsRequestObject) (api.GarantSnippetsResponseObject, error) {
	b := request.Body
	if (b.Text == nil) == (b.Correspondent == nil) {
		return nil, apperr.InvalidField("body.text", "send exactly one of text and correspondent")
	}
	if b.Text != nil {
		if err := textBytes("body.text", *b.Text, garant.MaxSearchText); err != nil {
			return nil, err
		}
	}
	c, err := h.begin(ctx, "garantSnippets")
	if err != nil {
		return nil, err
	}
	req := garant.SnippetsRequest{Topic: b.Topic, Text: b.Text}
	if b.Correspondent != nil {
		req.Correspondent = &garant.EntryRef{Topic: garant.Int(b.Correspondent.Topic), Entry: garant.Int(b.Correspondent.Entry)}
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, b.Topic, req, garant.SnippetsCall(req), func(r *garant.Snippets) api.GarantSnippetList {
		out := api.GarantSnippetList{Snippets: make([]api.GarantSnippet, 0, len(r.Snippets))}
		for _, s := range r.Snippets {
			sn := api.GarantSnippet{Entry: int(s.Entry), Ancestors: ancestors(s.Ancestors)}
			if s.Relevance != nil {
				f := float64(*s.Relevance)
				sn.Relevance = &f
			}
			out.Snippets = append(out.Snippets, sn)
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, false), nil
}

// GarantFindHyperlinks inserts links into a text (links_control quota).
func (h garantHandlers) GarantFindHyperlinks(ctx context.Context, request api.GarantFindHyperlinksRequestObject) (api.GarantFindHyperlinksResponseObject, error) {
	if err := textBytes("body.text", request.Body.Text, garant.MaxHyperlinksText); err != nil {
		return nil, err
	}
	c, err := h.begin(ctx, "garantFindHyperlinks")
	if err != nil {
		return nil, err
	}
	req := garant.HyperlinksRequest{Text: request.Body.Text, BaseURL: request.Body.BaseURL}
	// A 20 MB text is held once: the bound text is a view of the body's
	// buffer (decoded there in place, see validateBody), the cache key
	// hashes it through a small buffer and the client encodes it in chunks
	// as it sends it. The contract's answer is Garant's: one of its shape is
	// passed on as Garant sent it, so the answer is held once too.
	key := hyperlinksKey{TextSHA256: sha256String(req.Text), BaseURL: req.BaseURL}
	res, err := cachedBytes(ctx, c, request.Params.CacheControl, 0, key, garant.HyperlinksCall(req), func(b []byte) ([]byte, error) {
		if jsonscan.Check(b, hyperlinksAnswer, bodyLimits) == nil {
			return append(b, '\n'), nil
		}
		r, err := garant.DecodeHyperlinks(b) // other members, or not JSON: decoded and encoded again
		if err != nil {
			return nil, err
		}
		out, err := json.Marshal(api.GarantHyperlinksResult{Text: r.Text})
		if err != nil {
			return nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("garant: encode garantFindHyperlinks: %w", err))
		}
		return append(out, '\n'), nil
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, true), nil
}

// hyperlinksAnswer is the shape of a find-hyperlinks answer passed on as is:
// the contract's GarantHyperlinksResult.
var hyperlinksAnswer = jsonscan.Object(map[string]*jsonscan.Shape{"text": jsonscan.String()}, true)

// hyperlinksKey is what names a hyperlinks answer in the cache.
type hyperlinksKey struct {
	TextSHA256 string `json:"textSha256"`
	BaseURL    string `json:"baseUrl"`
}

// sha256String is the hex SHA-256 of s, hashed through a small buffer
// rather than a copy of s.
func sha256String(s string) string {
	h := sha256.New()
	var buf [32 << 10]byte
	for len(s) > 0 {
		n := copy(buf[:], s)
		h.Write(buf[:n])
		s = s[n:]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// GarantGetTopic returns a document's attributes (topic_info quota).
func (h garantHandlers) GarantGetTopic(ctx context.Context, request api.GarantGetTopicRequestObject) (api.GarantGetTopicResponseObject, error) {
	c, err := h.begin(ctx, "garantGetTopic")
	if err != nil {
		return nil, err
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, request.Topic, garant.TopicCall(request.Topic), topicInfo)
	if err != nil {
		return nil, err
	}
	return answer(res, true, true), nil
}

// GarantGetTopicEditions returns a document's editions, newest first.
func (h garantHandlers) GarantGetTopicEditions(ctx context.Context, request api.GarantGetTopicEditionsRequestObject) (api.GarantGetTopicEditionsResponseObject, error) {
	c, err := h.begin(ctx, "garantGetTopicEditions")
	if err != nil {
		return nil, err
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, request.Topic, c.svc.Client.EditionsCall(request.Topic), func(r *[]garant.Edition) api.GarantEditionList {
		return editions(*r, c.Unparsed)
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, false), nil
}

// GarantGetTopicHTML returns a document as HTML pages with image and
// formula links pointing at the gateway (export quota).
func (h garantHandlers) GarantGetTopicHTML(ctx context.Context, request api.GarantGetTopicHTMLRequestObject) (api.GarantGetTopicHTMLResponseObject, error) {
	c, err := h.begin(ctx, "garantGetTopicHTML")
	if err != nil {
		return nil, err
	}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, request.Topic, garant.TopicHTMLCall(request.Topic), func(r *garant.TopicHTML) api.GarantTopicHTML {
		out := api.GarantTopicHTML{Items: make([]api.GarantHTMLPage, 0, len(r.Items))}
		for i, p := range r.Items {
			n := p.Number
			if n == 0 {
				n = i + 1
			}
			out.Items = append(out.Items, api.GarantHTMLPage{Number: n, Text: garant.RewriteHTML(p.Text, gatewayPrefix)})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, true), nil
}

// GarantGetEntryHTML returns one fragment as HTML (export quota).
func (h garantHandlers) GarantGetEntryHTML(ctx context.Context, request api.GarantGetEntryHTMLRequestObject) (api.GarantGetEntryHTMLResponseObject, error) {
	c, err := h.begin(ctx, "garantGetEntryHTML")
	if err != nil {
		return nil, err
	}
	req := [2]int{request.Topic, request.Entry}
	res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, req, garant.EntryHTMLCall(request.Topic, request.Entry), func(r *garant.EntryHTML) api.GarantEntryHTML {
		out := api.GarantEntryHTML{Entry: int(r.Entry), Title: r.Title, Text: garant.RewriteHTML(r.Text, gatewayPrefix),
			Ancestors: ancestors(r.Ancestors), Respondents: make([]api.GarantEntryRef, 0, len(r.Respondents))}
		for _, x := range r.Respondents {
			out.Respondents = append(out.Respondents, api.GarantEntryRef{Topic: int(x.Topic), Entry: int(x.Entry)})
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	return answer(res, true, true), nil
}
