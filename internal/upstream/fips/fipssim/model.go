package fipssim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Application statuses.
const (
	statusDraft      = "draft"
	statusRegistered = "registered"
)

// ФЛК states of a structured document.
const (
	flkNone   = "none"
	flkPassed = "passed"
	flkFailed = "failed"
)

// state is everything the simulator holds, guarded by Server.mu.
type state struct {
	nextID  int
	nextReg int
	apps    map[string]*application // by internal id
	byReg   map[string]*application // by registration number
}

func (st *state) newID() string { st.nextID++; return strconv.Itoa(st.nextID) }

type application struct {
	id, regNum, incoming string
	typ, category, title string
	status               string
	owner                string // the owner's key, never shown
	ownerName            string
	created, updated     time.Time
	regDate              time.Time
	docs                 []*document // in creation order
	pkgSig               *signature  // the submission signature
}

type document struct {
	id, regNum       string
	code, title      string // type code (may be empty) and template name
	structured       bool
	incoming, read   bool
	fileName, descr  string
	pageCount        int
	content          []byte // file or statement bytes; never mutated in place
	contentType      string
	flk              string
	flkErrors        []fieldError
	signatures       []signature
	created, updated time.Time
}

type signature struct {
	ID                string    `json:"id"`
	Signer            string    `json:"signer"`
	CertificateSerial string    `json:"certificateSerial"`
	Algorithm         string    `json:"algorithm"`
	SignedAt          time.Time `json:"signedAt"`
	Size              int       `json:"size"`
	Digest            string    `json:"digest"` // SHA-256 of the CMS, base64
}

// hasContent reports whether d can be read as a file and signed.
func (d *document) hasContent() bool {
	if d.structured {
		return d.flk == flkPassed
	}
	return len(d.content) > 0
}

// setContent replaces the content; old signatures no longer match it.
func (d *document) setContent(b []byte, contentType string, now time.Time) {
	d.content, d.contentType, d.signatures, d.updated = b, contentType, nil, now
}

func digest(b []byte) string { s := sha256.Sum256(b); return base64.StdEncoding.EncodeToString(s[:]) }

// findApp resolves {id} (internal id or registration number) for c.
func (s *Server) findApp(c *account, id string) (*application, error) {
	a := s.st.apps[id]
	if a == nil {
		a = s.st.byReg[id]
	}
	if a == nil {
		return nil, newError(http.StatusNotFound, fmt.Sprintf("Заявка %q не найдена", id))
	}
	if a.owner != c.key && !c.trustFor[a.owner] {
		return nil, errForbidden()
	}
	return a, nil
}

// findDoc resolves {id} and {docId} of r for c.
func (s *Server) findDoc(c *account, r *http.Request) (*application, *document, error) {
	a, err := s.findApp(c, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("docId")
	for _, d := range a.docs {
		if d.id == id || (d.regNum != "" && d.regNum == id) {
			return a, d, nil
		}
	}
	return nil, nil, newError(http.StatusNotFound, fmt.Sprintf("Документ %q заявки не найден", id))
}

func errRegisteredDoc() *apiError {
	return newError(http.StatusConflict, "Зарегистрированный документ изменить нельзя")
}

// appPath is where an application is read: its Location.
func (s *Server) appPath(a *application) string { return s.pathOf("fipsGetApplication", a.id, "") }

// docPath is where a document is read: its Location.
func (s *Server) docPath(a *application, d *document) string {
	return s.pathOf("fipsGetDocument", a.id, d.id)
}

// pathOf is op's path with its ids filled in.
func (s *Server) pathOf(op, appID, docID string) string {
	return Prefix + strings.NewReplacer("{applicationId}", url.PathEscape(appID), "{documentId}", url.PathEscape(docID)).Replace(s.table[op].Path)
}

type docCounts struct {
	Total        int `json:"total"`
	Unread       int `json:"unread"`
	Unregistered int `json:"unregistered"`
}

type applicationView struct {
	ID                 string     `json:"id"`
	RegistrationNumber string     `json:"registrationNumber"`
	Type               string     `json:"type"`
	Category           string     `json:"category"`
	Title              string     `json:"title"`
	Status             string     `json:"status"`
	CreatedAt          time.Time  `json:"createdAt"`
	UpdatedAt          time.Time  `json:"updatedAt"`
	RegistrationDate   *time.Time `json:"registrationDate"`
	IncomingNumber     string     `json:"incomingNumber"`
	Owner              string     `json:"owner"`
	Trusted            bool       `json:"trusted"` // the caller acts as a trustee
	Documents          docCounts  `json:"documents"`
}

func (a *application) counts() docCounts {
	var n docCounts
	for _, d := range a.docs {
		n.Total++
		if d.incoming && !d.read {
			n.Unread++
		}
		if d.regNum == "" {
			n.Unregistered++
		}
	}
	return n
}

func (a *application) view(c *account) applicationView {
	v := applicationView{
		ID: a.id, RegistrationNumber: a.regNum, Type: a.typ, Category: a.category, Title: a.title,
		Status: a.status, CreatedAt: a.created, UpdatedAt: a.updated, IncomingNumber: a.incoming,
		Owner: a.ownerName, Trusted: a.owner != c.key, Documents: a.counts(),
	}
	if !a.regDate.IsZero() {
		t := a.regDate
		v.RegistrationDate = &t
	}
	return v
}

type documentView struct {
	ID                 string       `json:"id"`
	RegistrationNumber string       `json:"registrationNumber"`
	Type               string       `json:"type"`
	TypeTitle          string       `json:"typeTitle"`
	Structured         bool         `json:"structured"`
	Direction          string       `json:"direction"` // outgoing (ours) or incoming (from FIPS)
	Read               bool         `json:"read"`
	FileName           string       `json:"fileName"`
	Description        string       `json:"description"`
	PageCount          int          `json:"pageCount"`
	ContentType        string       `json:"contentType"`
	Size               int          `json:"size"`
	SHA256             string       `json:"sha256"`
	FLKStatus          string       `json:"flkStatus,omitempty"`
	FLKErrors          []fieldError `json:"flkErrors,omitempty"`
	Signatures         int          `json:"signatures"`
	CreatedAt          time.Time    `json:"createdAt"`
	UpdatedAt          time.Time    `json:"updatedAt"`
}

func (d *document) view() documentView {
	v := documentView{
		ID: d.id, RegistrationNumber: d.regNum, Type: d.code, TypeTitle: d.title, Structured: d.structured,
		Direction: "outgoing", Read: d.read || !d.incoming, FileName: d.fileName, Description: d.descr,
		PageCount: d.pageCount, ContentType: d.contentType, Size: len(d.content),
		Signatures: len(d.signatures), CreatedAt: d.created, UpdatedAt: d.updated,
	}
	if d.incoming {
		v.Direction = "incoming"
	}
	if len(d.content) > 0 {
		v.SHA256 = digest(d.content)
	}
	if d.structured {
		v.FLKStatus, v.FLKErrors = d.flk, d.flkErrors
	}
	return v
}

// generatedName is the applicant name of a key without a configured one.
func generatedName(seed uint64, i int) string {
	names := []string{`ООО «Вектор»`, `АО «Северный завод»`, "Иванова Анна Сергеевна", `ООО «Лаборатория идей»`, "ИП Смирнов Олег Игоревич"}
	return names[(int(seed%uint64(len(names)))+i)%len(names)]
}

// certSerial is a stable certificate serial for an applicant.
func certSerial(seed uint64, name string) string {
	sum := sha256.Sum256([]byte(strconv.FormatUint(seed, 10) + "/" + name))
	return strings.ToUpper(hex.EncodeToString(sum[:16]))
}
