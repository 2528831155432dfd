package garant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The lenient types below are decoded inside one json.Unmarshal of the whole
// answer, which has already checked that the value is valid JSON: plain
// strings (no escapes, valid UTF-8) and numbers are read from the bytes as
// they are; anything else goes through encoding/json.

// plainString returns the contents of b, a JSON string, when it needs no
// unescaping.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < ' ' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// jsonString decodes b, a JSON string.
func jsonString(b []byte) (string, error) {
	if s, ok := plainString(b); ok {
		return s, nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// Int is an integer that Garant may send as a number or as a numeric string
// (the docs and clients disagree for some ids); null and "" are 0.
type Int int

// UnmarshalJSON accepts 12, 12.0, "12" and null.
func (n *Int) UnmarshalJSON(b []byte) error {
	raw := b
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = 0
		return nil
	}
	var s string
	if len(b) > 0 && b[0] == '"' {
		var err error
		if s, err = jsonString(b); err != nil {
			return err
		}
		if s = strings.TrimSpace(s); s == "" {
			*n = 0
			return nil
		}
	} else {
		s = string(b)
	}
	if v, err := strconv.Atoi(s); err == nil {
		*n = Int(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int(f)) {
		return fmt.Errorf("garant: %s is not an integer", raw)
	}
	*n = Int(f)
	return nil
}

// Float is a number that Garant sends as a string ("0.99") or a number.
type Float float64

// UnmarshalJSON accepts 0.99, "0.99" and "0,99"; not "NaN" or "Inf"
// (strconv reads them, JSON cannot carry them on).
func (f *Float) UnmarshalJSON(b []byte) error {
	raw := b
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' {
		var err error
		if s, err = jsonString(b); err != nil {
			return err
		}
		s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	} else {
		s = string(b)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("garant: %s is not a number", raw)
	}
	*f = Float(v)
	return nil
}

// String is a string that Garant may send as a number (court kinds "301").
type String string

// UnmarshalJSON accepts "301" and 301.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		v, err := jsonString(b)
		*s = String(v)
		return err
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	*s = String(b)
	return nil
}

// Strings is a list of strings that may arrive as a single string or null.
type Strings []string

// UnmarshalJSON accepts ["a","b"], "a" and null (an empty list); the
// elements may be numbers (read as their text) or null ("").
func (l *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*l = Strings{}
		return nil
	case len(b) > 0 && b[0] == '"':
		s, err := jsonString(b)
		if err != nil {
			return err
		}
		*l = Strings{s}
		return nil
	}
	if out, ok := plainStrings(b); ok {
		*l = out
		return nil
	}
	var v []String
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	out := make(Strings, len(v))
	for i, s := range v {
		out[i] = string(s)
	}
	*l = out
	return nil
}

// plainStrings reads b, a JSON array, when every element is a plain string.
func plainStrings(b []byte) (Strings, bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, false
	}
	out := Strings{}
	rest := bytes.TrimSpace(b[1 : len(b)-1])
	for len(rest) > 0 {
		if rest[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, false
		}
		s, ok := plainString(rest[:end+2])
		if !ok {
			return nil, false
		}
		out = append(out, s)
		rest = bytes.TrimSpace(rest[end+2:])
		if len(rest) == 0 {
			break
		}
		if rest[0] != ',' {
			return nil, false
		}
		rest = bytes.TrimSpace(rest[1:])
		if len(rest) == 0 {
			return nil, false
		}
	}
	return out, true
}

// SearchRequest is POST /v2/search. Sort, SortOrder and Page are always sent.
type SearchRequest struct {
	Text      string `json:"text"`
	IsQuery   bool   `json:"isQuery"`
	Page      int    `json:"page"`
	Env       string `json:"env"`
	Sort      int    `json:"sort"`
	SortOrder int    `json:"sortOrder"`
}

// DocLink is a link to a document or fragment, relative to the front end.
type DocLink struct {
	Topic Int    `json:"topic"`
	Name  string `json:"name"`
	URL   string `json:"url"`
}

// SearchResult is one page of results.
type SearchResult struct {
	Documents  []DocLink `json:"documents"`
	TotalDocs  Int       `json:"totalDocs"`
	TotalPages Int       `json:"totalPages"`
	Page       Int       `json:"page"`
}

// EntryRef is a fragment of a document.
type EntryRef struct {
	Topic Int `json:"topic"`
	Entry Int `json:"entry"`
}

// SnippetsRequest is POST /v2/snippets: exactly one of Text and Correspondent.
type SnippetsRequest struct {
	Topic         int       `json:"topic"`
	Text          *string   `json:"text,omitempty"`
	Correspondent *EntryRef `json:"correspondent,omitempty"`
}

// Ancestor is a structural unit containing a fragment.
type Ancestor struct {
	Entry Int    `json:"entry"`
	Title string `json:"title"`
}

// Snippet is one matching fragment; Relevance is absent for correspondents.
type Snippet struct {
	Relevance *Float     `json:"relevance"`
	Entry     Int        `json:"entry"`
	Ancestors []Ancestor `json:"ancestors"`
}

// Snippets is the answer of /v2/snippets.
type Snippets struct {
	Snippets []Snippet `json:"snippets"`
}

// HyperlinksRequest is POST /v2/find-hyperlinks. It is encoded as it is
// sent, in chunks (stream.go): a 20 MB text is never copied whole.
type HyperlinksRequest struct {
	Text    string `json:"text"`
	BaseURL string `json:"baseUrl"`
}

// HyperlinksResult is the text with links.
type HyperlinksResult struct {
	Text string `json:"text"`
}

// Page is one page of exported HTML. The doc's example spells the key
// "number:"; both spellings are read.
type Page struct {
	Number int
	Text   string
}

// UnmarshalJSON reads "number" or "number:".
func (p *Page) UnmarshalJSON(b []byte) error {
	var v struct {
		Number  *Int   `json:"number"`
		NumberC *Int   `json:"number:"`
		Text    string `json:"text"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.Text = v.Text
	switch {
	case v.Number != nil:
		p.Number = int(*v.Number)
	case v.NumberC != nil:
		p.Number = int(*v.NumberC)
	}
	return nil
}

// TopicHTML is the whole document as HTML pages.
type TopicHTML struct {
	Items []Page `json:"items"`
}

// EntryHTML is one fragment as HTML.
type EntryHTML struct {
	Entry       Int        `json:"entry"`
	Title       string     `json:"title"`
	Text        string     `json:"text"`
	Ancestors   []Ancestor `json:"ancestors"`
	Respondents []EntryRef `json:"respondents"`
}

// Event is a change of a document or fragment.
type Event struct {
	Date string `json:"date"` // YYYY-MM-DD
	Type Int    `json:"type"`
}

// FindModifiedRequest is POST /v2/find-modified.
type FindModifiedRequest struct {
	Topics     []int  `json:"topics"`
	ModDate    string `json:"modDate"`
	NeedEvents bool   `json:"needEvents"`
}

// ModifiedTopic is a changed or missing document. The doc's example spells
// the key "topic:"; both spellings are read.
type ModifiedTopic struct {
	Topic     int
	ModStatus int
	Events    []Event
}

// UnmarshalJSON reads "topic" or "topic:".
func (m *ModifiedTopic) UnmarshalJSON(b []byte) error {
	var v struct {
		Topic     *Int    `json:"topic"`
		TopicC    *Int    `json:"topic:"`
		ModStatus Int     `json:"modStatus"`
		Events    []Event `json:"events"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	m.ModStatus, m.Events = int(v.ModStatus), v.Events
	switch {
	case v.Topic != nil:
		m.Topic = int(*v.Topic)
	case v.TopicC != nil:
		m.Topic = int(*v.TopicC)
	}
	return nil
}

// ModifiedTopics is the answer of /v2/find-modified.
type ModifiedTopics struct {
	Topics []ModifiedTopic `json:"topics"`
}

// BlocksRequest is POST /v2/block-on-control/changed.
type BlocksRequest struct {
	FromDate   string   `json:"fromDate"`
	URLArray   []string `json:"urlArray"`
	NeedEvents bool     `json:"needEvents"`
}

// ModifiedBlock is a changed or missing fragment; the doc's example omits URL.
type ModifiedBlock struct {
	URL       string  `json:"url"`
	ModStatus Int     `json:"modStatus"`
	Events    []Event `json:"events"`
}

// ModifiedBlocks is the answer of /v2/block-on-control/changed.
type ModifiedBlocks struct {
	URLArray []ModifiedBlock `json:"urlArray"`
}

// Category is a PRIME category; top-level ones may lack an id.
type Category struct {
	Text     string     `json:"text"`
	ID       *Int       `json:"id"`
	Children []Category `json:"children"`
}

// Categories is the answer of /v2/prime.
type Categories struct {
	Categories []Category `json:"categories"`
}

// NewsRequest is POST /v2/prime/create-news.
type NewsRequest struct {
	Categories []int   `json:"categories"`
	FromDate   string  `json:"fromDate"`
	ToDate     *string `json:"toDate,omitempty"`
	Sort       *int    `json:"sort,omitempty"`
}

// NewsItem is one news item.
type NewsItem struct {
	Name       string  `json:"name"`
	Document   DocLink `json:"document"`
	Paragraphs Strings `json:"paragraphs"`
}

// News is the answer of /v2/prime/create-news.
type News struct {
	News []NewsItem `json:"news"`
}

// TopicInfo is the answer of /v2/topic/{topic}. Attributes documented as
// lists are read from a single string too.
type TopicInfo struct {
	Topic        Int     `json:"topic"`
	Name         string  `json:"name"`
	Type         Strings `json:"type"`
	Adopted      Strings `json:"adopted"`
	Class        Strings `json:"class"`
	Date         Strings `json:"date"`
	Number       Strings `json:"number"`
	RDate        String  `json:"rdate"`
	RCode        String  `json:"rcode"`
	RStatus      String  `json:"rstatus"`
	Category     Strings `json:"category"`
	Status       String  `json:"status"`
	Kind         Strings `json:"kind"`
	Territory    Strings `json:"territory"`
	Active       Strings `json:"active"`
	ChDate       Strings `json:"chdate"`
	LastModified String  `json:"last_modified"`
	Access       string  `json:"access"`
}

// Span is a period, DD.MM.YYYY at either end; either may be absent.
type Span struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// NotSure is a period Garant is unsure about.
type NotSure struct {
	From string `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
}

// Changing is a document that produced an edition.
type Changing struct {
	Topic Int    `json:"topic"`
	Text  string `json:"text"`
	Entry *Int   `json:"entry"`
}

// Edition is one element of the editions array (no envelope).
type Edition struct {
	Status            string     `json:"status"`
	Topic             Int        `json:"topic"`
	Activity          []Span     `json:"activity"`
	NotSure           []NotSure  `json:"notSure"`
	ChangingDocuments []Changing `json:"changingDocuments"`
}

// SutyazhnikRequest is POST /v2/sutyazhnik-search.
type SutyazhnikRequest struct {
	Text  string   `json:"text"`
	Count int      `json:"count"`
	Kind  []string `json:"kind"`
}

// Limit is one quota family of /v2/limits: what is left this month.
type Limit struct {
	Title string   `json:"title"`
	Value Int      `json:"value"`
	Names []string `json:"names"`
}
