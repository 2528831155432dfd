// Package fipssim simulates the FIPS "Registrator" API v1
// (https://kpsrtz.fips.ru/api/v1) in memory: applications, their documents,
// file and statement content, the format-logical check (ФЛК), detached GOST
// signatures, the package to sign and the submission for registration, and the
// three dictionaries. The official document gives semantics but no paths; the
// paths are the proposal of REFERENCE.md §3.2 under the prefix /api/v1.
//
// Authorization is the raw key in the Authorization header (no "Bearer").
// State is kept per key; a key sees its own applications and those of the keys
// it is a trustee for. Every call is counted in Kit.Calls by route pattern
// ("GET /api/v1/applications/{id}"), faulted or not, and Kit.Wrap provides the
// /_sim/ control surface.
//
// Simulator choices where the official document is silent: error bodies are
// JSON {"message", "errors": [{"code", "field", "message"}]}; a statement that
// fails the ФЛК is still stored (400 with the findings; its file stays
// unavailable with 409 until a statement passes); registered applications and
// documents are read-only (409); new content drops a document's signatures;
// submission needs a statement that passed the ФЛК and content in every
// outgoing document (else 409 with the findings), and adds an unread incoming
// notification from FIPS.
package fipssim

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// Prefix is the path prefix of every upstream route.
const Prefix = "/api/v1"

// Config configures a simulator.
type Config struct {
	Seed     uint64              // drives ids, numbers and seeded data
	Keys     []string            // valid authorization keys
	Trustees map[string][]string // key → keys whose applications it may act on
	// Names maps a key to the applicant name shown as owner and signer;
	// keys without one get a generated name.
	Names map[string]string
	// SeedApplications maps a key to the number of applications it owns at start.
	SeedApplications map[string]int
}

// DefaultConfig holds the demo credentials: demo-fips-key owns five seeded
// applications; demo-fips-key-2 owns none and is a trustee of nobody.
func DefaultConfig() Config {
	return Config{
		Seed:             1,
		Keys:             []string{"demo-fips-key", "demo-fips-key-2"},
		Trustees:         map[string][]string{},
		Names:            map[string]string{"demo-fips-key": `ООО «Ромашка»`, "demo-fips-key-2": "Петров Пётр Петрович"},
		SeedApplications: map[string]int{"demo-fips-key": 5},
	}
}

// Server is the simulator, an http.Handler.
type Server struct {
	Kit *simkit.Kit

	loc      *time.Location
	seed     uint64
	accounts map[string]*account
	mux      *http.ServeMux
	handler  http.Handler

	mu sync.Mutex
	st state
}

// account is one authorization key and what it may see.
type account struct {
	key        string
	name       string
	certSerial string
	trustFor   map[string]bool
}

// New returns a simulator for cfg with its seeded data.
func New(cfg Config) *Server {
	s := &Server{
		Kit:      simkit.NewKit(cfg.Seed),
		loc:      time.FixedZone("MSK", 3*60*60),
		seed:     cfg.Seed,
		accounts: map[string]*account{},
		mux:      http.NewServeMux(),
	}
	for i, key := range cfg.Keys {
		if strings.TrimSpace(key) == "" {
			continue // an empty key would let requests without Authorization in
		}
		name := cfg.Names[key]
		if name == "" {
			name = generatedName(cfg.Seed, i)
		}
		a := &account{key: key, name: name, certSerial: certSerial(cfg.Seed, name), trustFor: map[string]bool{}}
		for _, owner := range cfg.Trustees[key] {
			a.trustFor[owner] = true
		}
		s.accounts[key] = a
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	s.st = state{
		nextID:  1_000_000 + rng.IntN(8_000_000),
		nextReg: 100_000 + rng.IntN(400_000),
		apps:    map[string]*application{},
		byReg:   map[string]*application{},
	}
	for _, key := range cfg.Keys {
		s.seedApplications(rng, key, cfg.SeedApplications[key])
	}
	s.routes()
	s.handler = s.Kit.Wrap(s.mux)
	return s
}

// ServeHTTP counts the call by route pattern, then serves it behind the kit.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/_sim/") {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			s.Kit.Calls.Inc(pattern)
		}
	}
	s.handler.ServeHTTP(w, r)
}

// now is the simulated time in Moscow.
func (s *Server) now() time.Time { return s.Kit.Clock.Now().In(s.loc) }

// handlerFunc serves one authorized call; a returned *apiError is written as JSON.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *account) error

// route registers h under pattern behind the key check.
func (s *Server) route(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.accounts[strings.TrimSpace(r.Header.Get("Authorization"))]
		if !ok {
			writeError(w, errUnauthorized())
			return
		}
		if err := h(w, r, c); err != nil {
			writeError(w, err)
		}
	})
}

func (s *Server) routes() {
	const app = Prefix + "/applications/{id}"
	const doc = app + "/documents/{docId}"
	s.route("GET "+Prefix+"/applications", s.listApplications)
	s.route("POST "+Prefix+"/applications", s.createApplication)
	s.route("GET "+app, s.getApplication)
	s.route("PUT "+app, s.updateApplication)
	s.route("DELETE "+app, s.deleteApplication)
	s.route("GET "+app+"/package", s.getPackage)
	s.route("POST "+app+"/package/signature", s.submit)
	s.route("GET "+app+"/documents", s.listDocuments)
	s.route("POST "+app+"/documents", s.createDocument)
	s.route("GET "+doc, s.getDocument)
	s.route("PUT "+doc, s.updateDocument)
	s.route("DELETE "+doc, s.deleteDocument)
	s.route("GET "+doc+"/file", s.getFile)
	s.route("PUT "+doc+"/file", s.putFile)
	s.route("DELETE "+doc+"/file", s.deleteFile)
	s.route("GET "+doc+"/statement", s.getStatement)
	s.route("PUT "+doc+"/statement", s.putStatement)
	s.route("GET "+doc+"/signatures", s.listSignatures)
	s.route("POST "+doc+"/signatures", s.addSignatures)
	s.route("GET "+Prefix+"/dictionaries/applicant-categories", s.applicantCategories)
	s.route("GET "+Prefix+"/dictionaries/applicant-document-types", s.applicantDocumentTypes)
	s.route("GET "+Prefix+"/dictionaries/document-types", s.documentTypes)
}
