// Package s3proxy is an HTTP proxy in front of an S3 server that counts
// the requests by kind, adds latency to them, and lets a [Hook] answer
// them in the server's place: the benchmarks measure through it, and the
// tests inject faults with it (package s3test).
package s3proxy

import (
	"bufio"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Kind is the kind of an S3 request as the proxy sees it.
type Kind string

// Request kinds counted by the proxy.
const (
	GET    Kind = "GET"
	PUT    Kind = "PUT"
	LIST   Kind = "LIST"
	DELETE Kind = "DELETE"
	HEAD   Kind = "HEAD"
	OTHER  Kind = "OTHER"
)

// Request describes one request passing through the proxy.
type Request struct {
	Kind   Kind
	Method string
	Bucket string
	Key    string
	Query  url.Values
	Header http.Header
}

// Hook may delay, fail or pass a request. It returns true when it wrote a
// response itself (the request then never reaches the server).
type Hook func(w http.ResponseWriter, r *http.Request, req Request) (handled bool)

// Proxy is an HTTP proxy in front of an S3 server that counts requests by
// kind and remembers the keys of every write. Its Latency is added to every
// request; its Hook, when set, may inject faults.
type Proxy struct {
	URL string // base URL to give to an S3 client

	mu      sync.Mutex
	counts  map[Kind]int    // guarded by mu
	written map[string]bool // bucket/key of every PUT, guarded by mu
	latency time.Duration   // guarded by mu
	hook    Hook            // guarded by mu
	waves                   // guarded by mu

	next http.Handler // forwards a request to the server
	srv  *http.Server
	ln   net.Listener
}

// New starts a proxy in front of target, the server's base URL, on a
// loopback port.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		URL:     "http://" + ln.Addr().String(),
		counts:  map[Kind]int{},
		written: map[string]bool{},
		ln:      ln,
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	rp.ErrorLog = log.New(io.Discard, "", 0) // aborted requests are the tests' doing
	p.next = rp
	p.srv = &http.Server{Handler: p.handler(rp)}
	go p.srv.Serve(ln)
	return p, nil
}

// Classify names the kind of an S3 request and its bucket and key.
func Classify(r *http.Request) Request {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	req := Request{Method: r.Method, Bucket: bucket, Key: key, Query: q, Header: r.Header}
	switch {
	case r.Method == http.MethodGet && key == "" && (q.Has("list-type") || !q.Has("location")):
		req.Kind = LIST
	case r.Method == http.MethodGet:
		req.Kind = GET
	case r.Method == http.MethodHead:
		req.Kind = HEAD
	case r.Method == http.MethodPut && key != "":
		req.Kind = PUT
	case r.Method == http.MethodDelete && key != "":
		req.Kind = DELETE
	case r.Method == http.MethodPost && q.Has("delete"):
		req.Kind = DELETE
	default:
		req.Kind = OTHER
	}
	return req
}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Classify(r)
		p.mu.Lock()
		p.counts[req.Kind]++
		if req.Kind == PUT {
			p.written[req.Bucket+"/"+req.Key] = true
		}
		latency, hook := p.latency, p.hook
		l := p.begin()
		p.mu.Unlock()
		ew := &endWriter{ResponseWriter: w, end: func() { p.end(l) }}
		defer ew.ended()
		w = ew
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		if hook != nil && hook(w, r, req) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Pass carries r out on the server and writes the server's response to
// w, without the latency or the hook: for hooks that reach the server
// themselves.
func (p *Proxy) Pass(w http.ResponseWriter, r *http.Request) { p.next.ServeHTTP(w, r) }

// SetLatency sets the delay added to every request from now on.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetHook installs (or, with nil, removes) the fault-injection hook.
func (p *Proxy) SetHook(h Hook) {
	p.mu.Lock()
	p.hook = h
	p.mu.Unlock()
}

// Counts returns the number of requests of each kind since the last Reset.
func (p *Proxy) Counts() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Total returns the number of requests of all kinds since the last Reset.
func (p *Proxy) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.counts {
		n += v
	}
	return n
}

// Written returns "bucket/key" for every object written since the last Reset.
func (p *Proxy) Written() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.written {
		out = append(out, k)
	}
	return out
}

// Reset clears the counters and the list of written keys.
func (p *Proxy) Reset() {
	p.mu.Lock()
	clear(p.counts)
	clear(p.written)
	p.waves.count = 0
	p.waves.epoch++
	p.waves.longest = 0
	p.mu.Unlock()
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

// endWriter ends its request (for the count of waves) as the response
// starts: a client that sends its next request the moment it has this
// answer must find this one ended, or the two would count as one wave.
// It passes flushes and hijacks on, as fault hooks use them.
type endWriter struct {
	http.ResponseWriter
	end  func()
	once sync.Once
}

func (w *endWriter) ended() { w.once.Do(w.end) }

// WriteHeader implements [http.ResponseWriter].
func (w *endWriter) WriteHeader(code int) {
	w.ended()
	w.ResponseWriter.WriteHeader(code)
}

// Write implements [http.ResponseWriter].
func (w *endWriter) Write(b []byte) (int, error) {
	w.ended()
	return w.ResponseWriter.Write(b)
}

// Flush implements [http.Flusher].
func (w *endWriter) Flush() {
	if fl, ok := w.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Hijack implements [http.Hijacker].
func (w *endWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.ended()
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}

// Unwrap returns the writer underneath, for http.ResponseController.
func (w *endWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
