// Package garantsim is a strict, deterministic simulator of the Garant
// Connect API v2 (https://api.garant.ru/v2): all 18 methods at their real
// paths, bearer-token auth with per-token tariffs, monthly quota families
// reported by /v2/limits (423 when spent), a per-token rate limit (429), and a
// seeded corpus of several hundred Russian legal documents with multi-page
// HTML, images, formulas, editions and change events.
//
// Strictness follows the official documentation: POST methods need
// Content-Type and Accept of application/json, JSON methods reject any other
// Accept, bodies with unknown fields or wrong types are a format error (400),
// and every documented limit is enforced. A token's Denied methods and
// DeniedTopics answer 403 (no rights for the request; Proxima: a document
// outside its base). The forms of the official examples are options:
// Config.MisspelledKeys ("number:", "topic:"), RepeatedPracticeKeys (court
// practice with "kind" and "courts" repeated in one object) and OmitAccess
// (topic info without "access").
//
// The simulator sits behind simkit.Kit: GET /_sim/calls reports calls by
// route pattern ("GET /v2/topic/{topic}"), PUT /_sim/faults injects faults and
// PUT /_sim/clock moves the clock that quotas, rate limits and dates use.
package garantsim

import (
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// Well-known topics of the simulated corpus, for tests elsewhere.
const (
	TopicConstitution      = 10103000  // Конституция Российской Федерации
	TopicCivilCode         = 10900200  // Гражданский кодекс РФ (часть первая)
	TopicTaxCode           = 12125268  // Налоговый кодекс РФ (часть первая)
	TopicAdminOffencesCode = 12125267  // Кодекс РФ об административных правонарушениях
	TopicLabourCode        = 12125270  // Трудовой кодекс РФ
	TopicCriminalCode      = 10108000  // Уголовный кодекс РФ
	TopicContractLaw       = 70353464  // Федеральный закон от 5 апреля 2013 г. N 44-ФЗ
	TopicTrafficLaw        = 71848756  // Федеральный закон от 29 декабря 2017 г. N 443-ФЗ
	TopicMinWageResolution = 102004    // Постановление ВС РФ от 30 марта 1993 г. N 4694-I
	TopicAbolished         = 77682742  // a document that lost force (find-modified example)
	TopicArbitrationCase   = 582418996 // Решение Арбитражного суда г. Санкт-Петербурга ...
	ImageExample           = 36576886  // object_id of the image in the official example
	FormulaExample         = "c3RyaW5nKCkrLXN0cmluZygp"
)

// Quota family titles, as /v2/limits reports them.
const (
	FamilyHyperlinks      = "Постановка ссылки"
	FamilyExport          = "Экспорт"
	FamilyOnControl       = "Документы на контроле"
	FamilyBlocksOnControl = "Блоки документа на контроле"
	FamilyTopicInfo       = "Информация о документе"
)

// Demo tokens of DefaultConfig.
const (
	DemoToken        = "demo-garant-token"
	DemoLimitedToken = "demo-garant-limited"
)

// Unlimited is the quota value that means "no limit on this tariff".
const Unlimited = 32767

// Token is one API token's tariff.
type Token struct {
	// Methods lists allowed methods by /limits-style name ("topic/html",
	// "sutyazhnik-search") or family title; empty means all. /v2/limits is
	// always allowed.
	Methods []string
	// Quotas maps a family title or member name to its monthly limit.
	// A missing family, or Unlimited, means no limit.
	Quotas map[string]int
	// Denied lists methods (named as in Methods) the token has no rights
	// for: they answer 403, "no rights for this request", as the document's
	// error table says of every method.
	Denied []string
	// DeniedTopics lists documents the token may not see: every method with
	// a {topic} answers 403 for them (Garant Proxima: documents outside the
	// internal-documents base).
	DeniedTopics []int
}

// Config configures a Server.
type Config struct {
	Seed           uint64
	Tokens         map[string]Token
	MisspelledKeys bool // answer "number:" and "topic:" as the doc examples do
	// RepeatedPracticeKeys answers sutyazhnik-search in the form of the
	// document's example: one object whose norms are followed by "kind" and
	// "courts" once per kind (repeated keys), instead of one object per kind.
	RepeatedPracticeKeys bool
	// OmitAccess leaves "access" out of topic info, as the document's
	// example does.
	OmitAccess    bool
	RatePerSecond int            // per token; default 20
	Location      *time.Location // quota months; default Europe/Moscow
}

// DefaultConfig holds the demo tokens with the official doc's monthly limits.
func DefaultConfig() Config {
	quotas := map[string]int{
		FamilyHyperlinks:      1000,
		FamilyExport:          30,
		FamilyOnControl:       1000,
		FamilyBlocksOnControl: 1000,
		FamilyTopicInfo:       300,
	}
	var limited []string
	for _, m := range methodNames() {
		if m != "sutyazhnik-search" && familyOf(m) != FamilyExport {
			limited = append(limited, m)
		}
	}
	return Config{
		Seed: 1,
		Tokens: map[string]Token{
			DemoToken:        {Quotas: quotas},
			DemoLimitedToken: {Methods: limited, Quotas: quotas},
		},
		RatePerSecond: 20,
	}
}

// Server is the simulator, an http.Handler.
type Server struct {
	Kit *simkit.Kit

	cfg     Config
	corpus  *corpus
	mux     *http.ServeMux
	handler http.Handler
	// blockLink parses the fragment links of block-on-control/changed.
	blockLink *regexp.Regexp

	mu      sync.Mutex
	changed map[int][]time.Time          // topic → days of changes recorded by Change
	usage   map[string]map[string]*usage // token → family title → use this month
	hits    map[string][]time.Time       // token → accepted request times
}

// New builds a simulator from cfg.
func New(cfg Config) *Server {
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 20
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/Moscow")
		if err != nil {
			loc = time.FixedZone("MSK", 3*60*60)
		}
		cfg.Location = loc
	}
	s := &Server{
		Kit:     simkit.NewKit(cfg.Seed),
		cfg:     cfg,
		corpus:  buildCorpus(cfg.Seed),
		mux:     http.NewServeMux(),
		usage:   map[string]map[string]*usage{},
		changed: map[int][]time.Time{},
		hits:    map[string][]time.Time{},

		blockLink: regexp.MustCompile(`^https?://[^/#]+/?#/document/(\d+)(?:/entry/(\d+))?/?$`),
	}
	s.routes()
	s.handler = s.Kit.Wrap(s.mux)
	return s
}

// ServeHTTP counts the call by route pattern (before faults, so a faulted or
// rejected call still counts) and serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.Kit.Calls.Inc(pattern)
	}
	s.handler.ServeHTTP(w, r)
}

// Topics returns every document topic of the corpus, sorted.
func (s *Server) Topics() []int {
	out := make([]int, 0, len(s.corpus.docs))
	for _, d := range s.corpus.docs {
		out = append(out, d.topic)
	}
	slices.Sort(out)
	return out
}

func (s *Server) routes() {
	s.handle("POST /v2/search", "search", s.search)
	s.handle("POST /v2/snippets", "snippets", s.snippets)
	s.handle("POST /v2/find-hyperlinks", "find-hyperlinks", s.findHyperlinks)
	s.handle("GET /v2/topic/{topic}/download", "topic/download", s.downloadRTF)
	s.handle("GET /v2/topic/{topic}/download-odt", "topic/download-odt", s.downloadODT)
	s.handle("GET /v2/topic/{topic}/download-pdf", "topic/download-pdf", s.downloadPDF)
	s.handle("GET /v2/topic/{topic}/html", "topic/html", s.topicHTML)
	s.handle("GET /v2/topic/{topic}/entry/{entry}/html", "entry/html", s.entryHTML)
	s.handle("GET /v2/image/{object_id}", "image", s.image)
	s.handle("GET /v2/formula", "formula", s.formula)
	s.handle("POST /v2/find-modified", "find-modified", s.findModified)
	s.handle("POST /v2/block-on-control/changed", "block-on-control/changed", s.blocksChanged)
	s.handle("GET /v2/prime", "prime", s.primeCategories)
	s.handle("POST /v2/prime/create-news", "prime/create-news", s.createNews)
	s.handle("GET /v2/topic/{topic}", "topic", s.topicInfo)
	s.handle("GET /v2/redactions/{topic}", "redactions", s.redactions)
	s.handle("POST /v2/sutyazhnik-search", "sutyazhnik-search", s.sutyazhnik)
	s.handle("GET /v2/limits", "limits", s.limits)
}

// methodNames lists every method by its /limits-style name.
func methodNames() []string {
	return []string{
		"search", "snippets", "find-hyperlinks", "topic/download", "topic/download-odt",
		"topic/download-pdf", "topic/html", "entry/html", "image", "formula", "find-modified",
		"block-on-control/changed", "prime", "prime/create-news", "topic", "redactions",
		"sutyazhnik-search", "limits",
	}
}

// binaryMethods answer files, not JSON, and ignore Accept (clients send
// application/json there and still get the file).
func isBinary(name string) bool {
	switch name {
	case "topic/download", "topic/download-odt", "topic/download-pdf", "image", "formula":
		return true
	}
	return false
}
