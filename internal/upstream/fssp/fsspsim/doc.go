// Package fsspsim simulates the FSSP BDIP public API v1.0
// (https://api-ip.fssprus.ru/api/v1.0), as strictly as its documentation and
// observed real-world payloads allow, so that the gateway's FSSP client can be
// tested over real HTTP without the (discontinued) official service.
//
// Routes are served at the root and also under /api/v1.0, with or without a
// trailing slash:
//
//	GET  /search/physical  token*, region*, lastname*, firstname*, secondname, birthdate (DD.MM.YYYY)
//	GET  /search/legal     token*, region*, name*, address
//	GET  /search/ip        token*, number* (n…n/yy/dd/rr or n…n/yy/ddddd-ИП)
//	POST /search/group     {"token": "...", "request": [{"type": 1|2|3, "params": {...}}]}
//	GET  /status           token*, task*  → {"status": 0|1|2|3, "progress": "k of n"}
//	GET  /result           token*, task*
//
// Every answer is the envelope {status, code, exception, response}; on errors
// response is [] and the HTTP status equals code (400, 401, 404, 405, 429).
// Checks run in this order: token (401), parameters (400), limits (429). Only
// accepted searches count against the limits: GET searches against HourLimit
// and DayLimit, group POSTs (one each, whatever their size) against
// GroupDayLimit. /status and /result are not limited, and any configured token
// may read any task.
//
// Tasks live on the simulated clock (Kit.Clock): queued (status 2) for
// QueueFor after submission, then running (status 1) for RunFor with
// sub-requests finishing evenly over that time, then done (0), or done with
// errors (3) when a sub-request failed. As the doc defines it, progress "k of
// n" counts the sub-requests processed successfully; /result lists the
// processed sub-results in request order (a prefix while running). A legal
// search works with or without address (the parameter table makes it
// optional); Config.AddressQuirk makes one without address fail with the
// sub-result {"code": 0, "message": "Undefined index: address"}, as the
// document's example result (and real payloads) show. task_start and
// task_end are Moscow time. Results expire Retention
// after submission; the error is then 404 "task not found or expired".
//
// Data is deterministic in the seed and the query; see ManySurname,
// NoDebtSurname, ManyLegalName, NoDebtLegalName and the /search/ip rule on
// NotFoundNumberPrefix. Any other person or company search yields 0–3 records.
package fsspsim

// Well-known queries that other tests may rely on. Matching is on the
// upper-cased, trimmed value and ignores the seed.
const (
	// ManySurname as lastname yields at least ManyRecords records.
	ManySurname = "ИВАНОВ"
	// NoDebtSurname as lastname yields no records.
	NoDebtSurname = "НЕТДОЛГОВ"
	// ManyLegalName as (part of) a legal name yields at least ManyRecords
	// records (with Config.AddressQuirk, only when an address is given).
	ManyLegalName = "РОМАШКА"
	// NoDebtLegalName as (part of) a legal name yields no records.
	NoDebtLegalName = "НЕТДОЛГОВ"
	// NotFoundNumberPrefix: a proceeding number whose own part starts with
	// this digit (e.g. "0123/21/77/77") is not found; any other well-formed
	// number yields exactly one record.
	NotFoundNumberPrefix = "0"
	// ManyRecords is the minimum number of records of the "many" queries.
	ManyRecords = 20
	// DemoToken is the token of DefaultConfig.
	DemoToken = "demo-fssp-token"
	// AddressError is the message of a legal sub-request without address
	// under Config.AddressQuirk.
	AddressError = "Undefined index: address"
)
