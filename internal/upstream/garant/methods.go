package garant

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Export formats of Download.
const (
	FormatRTF = "rtf"
	FormatODT = "odt"
	FormatPDF = "pdf"
)

// Text limits of the document, in bytes of UTF-8 as Garant counts them:
// a search (and snippets) text is at most 16 KB, a text to put links into
// at most 20 MB.
const (
	MaxSearchText     = 16 << 10
	MaxHyperlinksText = 20 << 20
)

// Request is one call of a JSON method: the method's name (as /v2/limits
// names it), the verb, the path and the body (nil: none; a json.RawMessage
// is sent as it is). The constructors below build each method's.
type Request struct {
	Method, Verb, Path string
	Body               any
}

// JSON sends r and returns Garant's answer as it sent it (with room for one
// more byte): a 2xx of JSON content, within the client's size limit.
func (c *Client) JSON(ctx context.Context, token tenant.Secret, r Request) ([]byte, error) {
	b, _, err := c.callJSON(ctx, token, r.Method, r.Verb, r.Path, r.Body)
	return b, err
}

// Decode reads an answer of method (from JSON) into a T; a failure is one
// of an answered call (Garant counted it).
func Decode[T any](method string, b []byte) (*T, error) {
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, badAnswer(method, http.StatusOK, apperr.UpstreamFailed, "Garant's answer could not be decoded", err)
	}
	return &out, nil
}

// The requests of the JSON methods.
func SearchCall(r SearchRequest) Request {
	return Request{MethodSearch, http.MethodPost, "/v2/search", r}
}
func HyperlinksCall(r HyperlinksRequest) Request {
	return Request{MethodHyperlinks, http.MethodPost, "/v2/find-hyperlinks", r}
}
func SnippetsCall(r SnippetsRequest) Request {
	return Request{MethodSnippets, http.MethodPost, "/v2/snippets", r}
}
func TopicHTMLCall(topic int) Request {
	return Request{MethodTopicHTML, http.MethodGet, topicPath("/html", topic), nil}
}
func EntryHTMLCall(topic, entry int) Request {
	return Request{MethodEntryHTML, http.MethodGet, topicPath("/entry/"+strconv.Itoa(entry)+"/html", topic), nil}
}
func FindModifiedCall(r FindModifiedRequest) Request {
	return Request{MethodFindModified, http.MethodPost, "/v2/find-modified", r}
}
func BlocksChangedCall(r BlocksRequest) Request {
	return Request{MethodBlocksOnControl, http.MethodPost, "/v2/block-on-control/changed", r}
}
func PrimeCategoriesCall() Request {
	return Request{MethodPrime, http.MethodGet, "/v2/prime", nil}
}
func PrimeNewsCall(r NewsRequest) Request {
	return Request{MethodPrimeNews, http.MethodPost, "/v2/prime/create-news", r}
}
func LimitsCall() Request {
	return Request{MethodLimits, http.MethodGet, "/v2/limits", nil}
}
func TopicCall(topic int) Request {
	return Request{MethodTopic, http.MethodGet, topicPath("", topic), nil}
}
func CourtPracticeCall(r SutyazhnikRequest) Request {
	return Request{MethodSutyazhnik, http.MethodPost, "/v2/sutyazhnik-search", r}
}

// EditionsCall is the request of the editions of topic, on the configured
// editions path.
func (c *Client) EditionsCall(topic int) Request {
	return Request{MethodRedactions, http.MethodGet, strings.ReplaceAll(c.editions, "{topic}", strconv.Itoa(topic)), nil}
}

// decoded sends r and decodes its answer into a T.
func decoded[T any](ctx context.Context, c *Client, token tenant.Secret, r Request) (*T, error) {
	b, err := c.JSON(ctx, token, r)
	if err != nil {
		return nil, err
	}
	return Decode[T](r.Method, b)
}

func topicPath(suffix string, topic int) string {
	return "/v2/topic/" + strconv.Itoa(topic) + suffix
}

// Search runs POST /v2/search.
func (c *Client) Search(ctx context.Context, token tenant.Secret, r SearchRequest) (*SearchResult, error) {
	return decoded[SearchResult](ctx, c, token, SearchCall(r))
}

// Snippets runs POST /v2/snippets.
func (c *Client) Snippets(ctx context.Context, token tenant.Secret, r SnippetsRequest) (*Snippets, error) {
	return decoded[Snippets](ctx, c, token, SnippetsCall(r))
}

// FindHyperlinks runs POST /v2/find-hyperlinks.
func (c *Client) FindHyperlinks(ctx context.Context, token tenant.Secret, r HyperlinksRequest) (*HyperlinksResult, error) {
	b, err := c.FindHyperlinksJSON(ctx, token, r)
	if err != nil {
		return nil, err
	}
	return DecodeHyperlinks(b)
}

// DecodeHyperlinks decodes an answer of FindHyperlinksJSON; a failure is
// one of an answered call (Garant counted it).
func DecodeHyperlinks(b []byte) (*HyperlinksResult, error) {
	var out HyperlinksResult
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, badAnswer(MethodHyperlinks, http.StatusOK, apperr.UpstreamFailed, "Garant's answer could not be decoded", err)
	}
	return &out, nil
}

// FindHyperlinksJSON runs POST /v2/find-hyperlinks and returns Garant's
// answer undecoded (its text may be 20 MB and more), with room for one more
// byte; the caller checks it.
func (c *Client) FindHyperlinksJSON(ctx context.Context, token tenant.Secret, r HyperlinksRequest) ([]byte, error) {
	return c.JSON(ctx, token, HyperlinksCall(r))
}

// Download runs GET /v2/topic/{topic}/download[-odt|-pdf] for format rtf,
// odt or pdf. The file streams; close its Body.
func (c *Client) Download(ctx context.Context, token tenant.Secret, topic int, format string) (*File, error) {
	method, suffix := MethodDownloadRTF, "/download"
	switch format {
	case FormatODT:
		method, suffix = MethodDownloadODT, "/download-odt"
	case FormatPDF:
		method, suffix = MethodDownloadPDF, "/download-pdf"
	}
	return c.file(ctx, token, method, topicPath(suffix, topic), nil)
}

// TopicHTML runs GET /v2/topic/{topic}/html. Links are as Garant sent them;
// see RewriteHTML.
func (c *Client) TopicHTML(ctx context.Context, token tenant.Secret, topic int) (*TopicHTML, error) {
	return decoded[TopicHTML](ctx, c, token, TopicHTMLCall(topic))
}

// EntryHTML runs GET /v2/topic/{topic}/entry/{entry}/html.
func (c *Client) EntryHTML(ctx context.Context, token tenant.Secret, topic, entry int) (*EntryHTML, error) {
	return decoded[EntryHTML](ctx, c, token, EntryHTMLCall(topic, entry))
}

// Image runs GET /v2/image/{objectID}. The file streams; close its Body.
// An empty id, "." or ".." (a path of its own once escaped) is Invalid.
func (c *Client) Image(ctx context.Context, token tenant.Secret, objectID string) (*File, error) {
	if objectID == "" || objectID == "." || objectID == ".." {
		return nil, apperr.InvalidField("path.objectId", "must be an image object id")
	}
	return c.file(ctx, token, MethodImage, "/v2/image/"+url.PathEscape(objectID), nil)
}

// Formula runs GET /v2/formula?text=CODE&fmt=png; code goes verbatim, as
// found in the exported HTML. The file streams; close its Body.
func (c *Client) Formula(ctx context.Context, token tenant.Secret, code, format string) (*File, error) {
	if format == "" {
		format = "png"
	}
	return c.file(ctx, token, MethodFormula, "/v2/formula", url.Values{"text": {code}, "fmt": {format}})
}

// FindModified runs POST /v2/find-modified.
func (c *Client) FindModified(ctx context.Context, token tenant.Secret, r FindModifiedRequest) (*ModifiedTopics, error) {
	return decoded[ModifiedTopics](ctx, c, token, FindModifiedCall(r))
}

// BlocksChanged runs POST /v2/block-on-control/changed.
func (c *Client) BlocksChanged(ctx context.Context, token tenant.Secret, r BlocksRequest) (*ModifiedBlocks, error) {
	return decoded[ModifiedBlocks](ctx, c, token, BlocksChangedCall(r))
}

// PrimeCategories runs GET /v2/prime.
func (c *Client) PrimeCategories(ctx context.Context, token tenant.Secret) (*Categories, error) {
	return decoded[Categories](ctx, c, token, PrimeCategoriesCall())
}

// PrimeNews runs POST /v2/prime/create-news.
func (c *Client) PrimeNews(ctx context.Context, token tenant.Secret, r NewsRequest) (*News, error) {
	return decoded[News](ctx, c, token, PrimeNewsCall(r))
}

// Topic runs GET /v2/topic/{topic}.
func (c *Client) Topic(ctx context.Context, token tenant.Secret, topic int) (*TopicInfo, error) {
	return decoded[TopicInfo](ctx, c, token, TopicCall(topic))
}

// Editions runs GET on the configured editions path (default
// /v2/redactions/{topic}): a bare array, newest first.
func (c *Client) Editions(ctx context.Context, token tenant.Secret, topic int) ([]Edition, error) {
	out, err := decoded[[]Edition](ctx, c, token, c.EditionsCall(topic))
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// CourtPractice runs POST /v2/sutyazhnik-search.
func (c *Client) CourtPractice(ctx context.Context, token tenant.Secret, r SutyazhnikRequest) (*Practice, error) {
	return decoded[Practice](ctx, c, token, CourtPracticeCall(r))
}

// Limits runs GET /v2/limits: what is left of each family this month.
func (c *Client) Limits(ctx context.Context, token tenant.Secret) ([]Limit, error) {
	out, err := decoded[[]Limit](ctx, c, token, LimitsCall())
	if err != nil {
		return nil, err
	}
	return *out, nil
}
