// Package fipssim simulates the FIPS "Registrator" API v1
// (https://kpsrtz.fips.ru/api/v1) in memory: applications, their documents,
// file and statement content, the format-logical check (ФЛК), detached GOST
// signatures, the package to sign and the submission for registration, and the
// three dictionaries. The official document gives semantics but no wire
// format; by default the routes are the proposal of REFERENCE.md §3.2 under
// the prefix /api/v1, and Config.Routes serves another table (method, path,
// content type, part name, signature shape per operation) as the gateway's
// configuration describes it, and Config.Fields renames the members of its
// JSON request bodies as the gateway's field table does. Config.DotNetValues answers ids as numbers and
// timestamps without a zone.
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
	"cmp"
	"context"
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
	// Routes overrides the route of an operation (by the contract's
	// operation id); empty fields keep DefaultRoutes'. Paths are relative
	// to Prefix and name {applicationId} and {documentId}, as in the
	// gateway's configuration. Two operations on one method and path panic.
	Routes map[string]Route
	// DotNetValues answers ids as JSON numbers and timestamps without a
	// zone (Moscow time), as an ASP.NET service writing a local DateTime
	// does.
	DotNetValues bool
	// Fields renames the members of the JSON request bodies, as the
	// gateway's upstreams.fips.fields does.
	Fields Fields
}

// Route is how the simulator serves one operation, with the meaning of the
// gateway's route table: Method and Path; ContentType, the request body it
// takes (JSON operations: a JSON type, default application/json; uploads:
// multipart/form-data with the file in part Part, default "file", or any
// other type for the bytes alone; signatures with the raw shape: the CMS
// alone, default application/pkcs7-signature); Signature, how signatures
// come: "json" (default), "multipart" (a field "algorithm" and a file part
// Part, default "signature", per signature) or "raw" (one CMS per request;
// the simulator does not parse CMS and records GOST R 34.10-2012-256).
type Route struct {
	Method      string
	Path        string
	ContentType string
	Part        string
	Signature   string
}

// DefaultRoutes is the simulator's route table: REFERENCE.md §3.2.
func DefaultRoutes() map[string]Route {
	const app = "/applications/{applicationId}"
	const doc = app + "/documents/{documentId}"
	r := func(m, p string) Route { return Route{Method: m, Path: p} }
	return map[string]Route{
		"fipsListApplications": r("GET", "/applications"), "fipsCreateApplication": r("POST", "/applications"),
		"fipsGetApplication": r("GET", app), "fipsUpdateApplication": r("PUT", app), "fipsDeleteApplication": r("DELETE", app),
		"fipsGetPackage": r("GET", app+"/package"), "fipsSubmitApplication": r("POST", app+"/package/signature"),
		"fipsListDocuments": r("GET", app+"/documents"), "fipsCreateDocument": r("POST", app+"/documents"),
		"fipsGetDocument": r("GET", doc), "fipsUpdateDocument": r("PUT", doc), "fipsDeleteDocument": r("DELETE", doc),
		"fipsGetDocumentFile": r("GET", doc+"/file"), "fipsPutDocumentFile": r("PUT", doc+"/file"),
		"fipsClearDocumentFile": r("DELETE", doc+"/file"), "fipsGetStatement": r("GET", doc+"/statement"),
		"fipsPutStatement": r("PUT", doc+"/statement"), "fipsListSignatures": r("GET", doc+"/signatures"),
		"fipsAddSignature":               r("POST", doc+"/signatures"),
		"fipsListApplicantCategories":    r("GET", "/dictionaries/applicant-categories"),
		"fipsListApplicantDocumentTypes": r("GET", "/dictionaries/applicant-document-types"),
		"fipsListDocumentTypes":          r("GET", "/dictionaries/document-types"),
	}
}

// routeKey carries an operation's Route in its request's context.
type routeKey struct{}

// routeOf is the Route of the operation r was routed to.
func routeOf(r *http.Request) Route {
	rt, _ := r.Context().Value(routeKey{}).(Route)
	return rt
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
	table    map[string]Route
	renames  map[string]renaming
	dotNet   bool

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
	s.table, s.dotNet, s.renames = DefaultRoutes(), cfg.DotNetValues, renamings(cfg.Fields)
	for op, o := range cfg.Routes {
		d, ok := s.table[op]
		if !ok {
			panic("fipssim: Config.Routes: unknown operation " + op)
		}
		d.Method = cmp.Or(strings.ToUpper(o.Method), d.Method)
		d.Path = cmp.Or(o.Path, d.Path)
		d.ContentType, d.Part, d.Signature = o.ContentType, o.Part, o.Signature
		s.table[op] = d
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

// route registers h for op at its route, behind the key check. The route's
// path names its ids {id} and {docId} for the handlers.
func (s *Server) route(op string, h handlerFunc) {
	rt, rn := s.table[op], s.renames[op]
	path := strings.NewReplacer("{applicationId}", "{id}", "{documentId}", "{docId}").Replace(rt.Path)
	s.mux.HandleFunc(rt.Method+" "+Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.accounts[strings.TrimSpace(r.Header.Get("Authorization"))]
		if !ok {
			writeError(w, errUnauthorized())
			return
		}
		r = r.WithContext(withRenaming(context.WithValue(r.Context(), routeKey{}, rt), rn))
		if s.dotNet {
			w = &dotNetWriter{ResponseWriter: w}
		}
		if err := h(w, r, c); err != nil {
			writeError(w, err)
		}
	})
}

func (s *Server) routes() {
	s.route("fipsListApplications", s.listApplications)
	s.route("fipsCreateApplication", s.createApplication)
	s.route("fipsGetApplication", s.getApplication)
	s.route("fipsUpdateApplication", s.updateApplication)
	s.route("fipsDeleteApplication", s.deleteApplication)
	s.route("fipsGetPackage", s.getPackage)
	s.route("fipsSubmitApplication", s.submit)
	s.route("fipsListDocuments", s.listDocuments)
	s.route("fipsCreateDocument", s.createDocument)
	s.route("fipsGetDocument", s.getDocument)
	s.route("fipsUpdateDocument", s.updateDocument)
	s.route("fipsDeleteDocument", s.deleteDocument)
	s.route("fipsGetDocumentFile", s.getFile)
	s.route("fipsPutDocumentFile", s.putFile)
	s.route("fipsClearDocumentFile", s.deleteFile)
	s.route("fipsGetStatement", s.getStatement)
	s.route("fipsPutStatement", s.putStatement)
	s.route("fipsListSignatures", s.listSignatures)
	s.route("fipsAddSignature", s.addSignatures)
	s.route("fipsListApplicantCategories", s.applicantCategories)
	s.route("fipsListApplicantDocumentTypes", s.applicantDocumentTypes)
	s.route("fipsListDocumentTypes", s.documentTypes)
}
