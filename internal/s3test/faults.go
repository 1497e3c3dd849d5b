// Package s3test injects faults into the requests an [s3proxy.Proxy]
// passes to the S3 server of the tests: errors, resets, hangs, truncated
// bodies and lost answers. The server itself is package s3server.
package s3test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/s3vfs/s3vfs/internal/s3proxy"
)

// Fault is a kind of failure [Faults] injects into requests.
type Fault string

// The faults [Faults] can inject.
const (
	// InternalError answers 500 InternalError without reaching the server.
	InternalError Fault = "500"
	// SlowDown answers 503 SlowDown without reaching the server.
	SlowDown Fault = "503"
	// Reset closes the connection with a TCP reset, either before the
	// request reaches the server or after the server has carried it out
	// (the client cannot tell which).
	Reset Fault = "reset"
	// Hang never answers, until the client gives up: before the request
	// reaches the server, or after the server has carried it out.
	Hang Fault = "hang"
	// Truncate answers a GET with the server's status and headers (the full
	// Content-Length included), sends part of the body, then closes the
	// connection. Only GETs with a body are truncated.
	Truncate Fault = "truncate"
	// Conflict answers 409 ConditionalRequestConflict to a conditional PUT
	// (If-None-Match), as S3 does when conditional writes to one key race.
	// The request does not reach the server.
	Conflict Fault = "409"
)

// AllFaults lists every fault kind.
var AllFaults = []Fault{InternalError, SlowDown, Reset, Hang, Truncate, Conflict}

// Faults injects failures into a fraction of the requests passing through a
// [Proxy]. Decisions come from a random generator seeded by the caller, so
// the sequence of decisions is reproducible; which request meets which
// decision depends on the order in which concurrent requests arrive.
//
// The zero value injects nothing; use [NewFaults]. Its methods are safe for
// concurrent use.
type Faults struct {
	rate   float64
	kinds  []Fault
	filter func(s3proxy.Request) bool

	mu      sync.Mutex
	rng     *rand.Rand    // guarded by mu
	counts  map[Fault]int // faults injected, by kind; guarded by mu
	seen    int           // requests considered; guarded by mu
	maxHang time.Duration
}

// NewFaults returns an injector that fails each eligible request with
// probability rate (0 to 1) with one of kinds (every kind when none is
// given), chosen at random among those that apply to the request.
func NewFaults(seed uint64, rate float64, kinds ...Fault) *Faults {
	if len(kinds) == 0 {
		kinds = AllFaults
	}
	return &Faults{
		rate:    rate,
		kinds:   kinds,
		rng:     rand.New(rand.NewPCG(seed, seed^0x5eed)),
		counts:  map[Fault]int{},
		maxHang: 5 * time.Minute,
	}
}

// Only restricts the faults to requests for which keep returns true (for
// example the requests under one key prefix) and returns f.
func (f *Faults) Only(keep func(s3proxy.Request) bool) *Faults {
	f.filter = keep
	return f
}

// Install makes p inject f's faults from now on (replacing p's hook).
func (f *Faults) Install(p *s3proxy.Proxy) {
	p.SetHook(func(w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
		return f.serve(http.HandlerFunc(p.Pass), w, r, req)
	})
}

// Counts returns how many faults of each kind were injected.
func (f *Faults) Counts() map[Fault]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.counts)
}

// Total returns the number of faults injected and of requests considered.
func (f *Faults) Total() (faults, requests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.counts {
		faults += v
	}
	return faults, f.seen
}

// String reports the faults injected, by kind.
func (f *Faults) String() string {
	counts := f.Counts()
	var parts []string
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	n, seen := f.Total()
	return fmt.Sprintf("%d faults in %d requests (%s)", n, seen, strings.Join(parts, " "))
}

// applies reports whether fault k can be injected into req.
func applies(k Fault, req s3proxy.Request) bool {
	switch k {
	case Truncate:
		return req.Kind == s3proxy.GET
	case Conflict:
		return req.Kind == s3proxy.PUT && req.Header.Get("If-None-Match") != ""
	}
	return true
}

// decide picks the fault for req, if any, and whether it strikes after the
// server has carried the request out.
func (f *Faults) decide(req s3proxy.Request) (Fault, bool) {
	if f.filter != nil && !f.filter(req) {
		return "", false
	}
	var eligible []Fault
	for _, k := range f.kinds {
		if applies(k, req) {
			eligible = append(eligible, k)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen++
	// Draw the same numbers whatever the request, so the sequence of
	// decisions depends only on the seed and the order of requests.
	hit, pick, after := f.rng.Float64(), f.rng.IntN(1<<30), f.rng.IntN(2) == 1
	if len(eligible) == 0 || hit >= f.rate {
		return "", false
	}
	k := eligible[pick%len(eligible)]
	f.counts[k]++
	return k, after
}

func (f *Faults) serve(next http.Handler, w http.ResponseWriter, r *http.Request, req s3proxy.Request) bool {
	k, after := f.decide(req)
	switch k {
	case "":
		return false
	case InternalError:
		writeError(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case SlowDown:
		writeError(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case Conflict:
		writeError(w, http.StatusConflict, "ConditionalRequestConflict", "A conflicting operation occurred. If using PutObject you can retry the request.")
	case Reset:
		if after {
			next.ServeHTTP(httptest.NewRecorder(), r)
		}
		reset(w)
	case Hang:
		if after {
			next.ServeHTTP(httptest.NewRecorder(), r)
		}
		select {
		case <-r.Context().Done(): // the client gave up
		case <-time.After(f.maxHang):
		}
		reset(w)
	case Truncate:
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for name, vs := range rec.Header() {
			w.Header()[name] = vs
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		// Abort: net/http closes the connection without completing the
		// response, so the client sees fewer bytes than announced.
		panic(http.ErrAbortHandler)
	}
	return true
}

// reset closes the client's connection abruptly (RST where possible).
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// Forward carries r out on p's server and returns the server's response
// without sending it, for hooks that answer the client themselves after
// the server has acted (a lost response).
func Forward(p *s3proxy.Proxy, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	p.Pass(rec, r)
	return rec
}

// WriteError answers an S3 error response with the given status and code.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><RequestId>s3test-fault</RequestId></Error>`, code, msg)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body))
}
