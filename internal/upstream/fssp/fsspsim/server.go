package fsspsim

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// Config tunes the simulator. Zero limits and Retention take the defaults of
// DefaultConfig; zero QueueFor and RunFor mean instant, so start from
// DefaultConfig for realistic delays.
type Config struct {
	Seed          uint64
	Tokens        []string      // valid tokens; empty means DemoToken only
	GroupLimit    int           // max sub-requests per group (50; the older doc says 100)
	HourLimit     int           // single searches per token in the last hour (100)
	DayLimit      int           // single searches per token in the last 24 h (1000)
	GroupDayLimit int           // group searches per token in the last 24 h (5000)
	QueueFor      time.Duration // time a task stays queued (status 2)
	RunFor        time.Duration // time a task runs (status 1) before it is done
	Retention     time.Duration // results are kept this long after submission (24 h)
	// AddressQuirk reproduces the document's example result (5.6): a legal
	// search without address fails with the sub-result {"code": 0,
	// "message": "Undefined index: address"}, a backend PHP notice. Off by
	// default: the parameter table (5.2) makes address optional.
	AddressQuirk bool
}

// DefaultConfig returns the documented limits, the demo token and a task that
// is queued for 2 s and runs for 3 s.
func DefaultConfig() Config {
	return Config{
		Seed:          1,
		Tokens:        []string{DemoToken},
		GroupLimit:    50,
		HourLimit:     100,
		DayLimit:      1000,
		GroupDayLimit: 5000,
		QueueFor:      2 * time.Second,
		RunFor:        3 * time.Second,
		Retention:     24 * time.Hour,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Tokens) == 0 {
		c.Tokens = d.Tokens
	}
	if c.GroupLimit <= 0 {
		c.GroupLimit = d.GroupLimit
	}
	if c.HourLimit <= 0 {
		c.HourLimit = d.HourLimit
	}
	if c.DayLimit <= 0 {
		c.DayLimit = d.DayLimit
	}
	if c.GroupDayLimit <= 0 {
		c.GroupDayLimit = d.GroupDayLimit
	}
	if c.Retention <= 0 {
		c.Retention = d.Retention
	}
	c.QueueFor = max(c.QueueFor, 0)
	c.RunFor = max(c.RunFor, 0)
	return c
}

// Server is the simulated FSSP API. It is safe for concurrent use.
type Server struct {
	Kit *simkit.Kit

	cfg     Config
	handler http.Handler
	routes  map[string]http.HandlerFunc // "GET /status" → handler

	mu     sync.Mutex
	rng    *rand.Rand // task ids
	tasks  map[string]*task
	single map[string][]time.Time // token → accepted single searches
	group  map[string][]time.Time // token → accepted group searches
}

// New returns a simulator configured by cfg.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		Kit:    simkit.NewKit(cfg.Seed),
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5fa1d0c0ffee)),
		tasks:  map[string]*task{},
		single: map[string][]time.Time{},
		group:  map[string][]time.Time{},
	}
	s.routes = map[string]http.HandlerFunc{
		"GET /search/physical": s.searchSingle(TypePhysical),
		"GET /search/legal":    s.searchSingle(TypeLegal),
		"GET /search/ip":       s.searchSingle(TypeIP),
		"POST /search/group":   s.searchGroup,
		"GET /status":          s.taskHandler((*Server).statusBody),
		"GET /result":          s.taskHandler((*Server).resultBody),
	}
	s.handler = s.count(s.Kit.Wrap(http.HandlerFunc(s.route)))
	return s
}

// ServeHTTP serves the API and the /_sim/ control surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routePath strips the optional /api/v1.0 prefix and a trailing slash.
func routePath(p string) string {
	p = strings.TrimPrefix(p, "/api/v1.0")
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if p == "" {
		p = "/"
	}
	return p
}

func (s *Server) knownPath(p string) bool {
	for key := range s.routes {
		if strings.HasSuffix(key, " "+p) {
			return true
		}
	}
	return false
}

// callKey is the counter key of r: "GET /status" for a known path (whatever
// the method), "GET /{unknown}" otherwise.
func (s *Server) callKey(r *http.Request) string {
	p := routePath(r.URL.Path)
	if !s.knownPath(p) {
		p = "/{unknown}"
	}
	return r.Method + " " + p
}

// count counts every API call before faults apply, so faulted calls count too.
func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_sim/") {
			s.Kit.Calls.Inc(s.callKey(r))
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := routePath(r.URL.Path)
	if h, ok := s.routes[r.Method+" "+p]; ok {
		h(w, r)
		return
	}
	if s.knownPath(p) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	writeError(w, http.StatusNotFound, "unknown method")
}

func (s *Server) validToken(tok string) bool {
	return tok != "" && slices.Contains(s.cfg.Tokens, tok)
}

// envelope is the wrapper of every answer.
type envelope struct {
	Status    string `json:"status"`
	Code      int    `json:"code"`
	Exception string `json:"exception"`
	Response  any    `json:"response"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeOK(w http.ResponseWriter, response any) {
	writeJSON(w, http.StatusOK, envelope{Status: "success", Response: response})
}

func writeError(w http.ResponseWriter, code int, exception string) {
	writeJSON(w, code, envelope{Status: "error", Code: code, Exception: exception, Response: []any{}})
}
