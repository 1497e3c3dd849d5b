package s3proxy

// waves counts the round trips a client waited for in sequence: a wave
// starts when a request arrives while none is in flight, so requests
// sent in parallel share a wave and requests sent one after another
// each make their own. With a latency set, Waves times the latency
// approximates the time spent waiting on the network.
//
// Requests in the background (a prefetch) merge waves that overlap them;
// the chain does not: it is the longest sequence of requests each sent
// after the one before it was answered, which a background request
// lengthens only when another begins after it ended (whether or not
// that one waited for it). It counts requests, not time.
type waves struct {
	inflight int
	count    int
	epoch    int // Resets so far: a request begun before the last one is not counted
	longest  int // the longest chain of requests ended since the last Reset
}

// link is a request's place in the chains: the Reset it followed, and
// the length of the longest chain it ends.
type link struct{ epoch, depth int }

// begin is called with p.mu held as a request arrives.
func (p *Proxy) begin() link {
	if p.waves.inflight == 0 {
		p.waves.count++
	}
	p.waves.inflight++
	return link{epoch: p.waves.epoch, depth: p.waves.longest + 1}
}

// end is called as the response of the request l begun has started.
func (p *Proxy) end(l link) {
	p.mu.Lock()
	p.waves.inflight--
	if l.epoch == p.waves.epoch {
		p.waves.longest = max(p.waves.longest, l.depth)
	}
	p.mu.Unlock()
}

// Waves returns the number of waves of requests since the last Reset:
// how many times the proxy went from idle to busy.
func (p *Proxy) Waves() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waves.count
}

// Chain returns the length of the longest chain of requests since the
// last Reset, each begun after the one before it was answered, among
// the requests answered by now: the round trips a client waited for in
// sequence, whatever ran beside them.
func (p *Proxy) Chain() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waves.longest
}

// InFlight returns the requests the proxy has begun and not yet answered.
func (p *Proxy) InFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waves.inflight
}
