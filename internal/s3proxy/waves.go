package s3proxy

// waves counts the round trips a client waited for in sequence: a wave
// starts when a request arrives while none is in flight, so requests
// sent in parallel share a wave and requests sent one after another
// each make their own. With a latency set, Waves times the latency
// approximates the time spent waiting on the network.
type waves struct {
	inflight int
	count    int
}

// begin is called with p.mu held as a request arrives.
func (p *Proxy) begin() {
	if p.waves.inflight == 0 {
		p.waves.count++
	}
	p.waves.inflight++
}

// end is called as a request's response has been written.
func (p *Proxy) end() {
	p.mu.Lock()
	p.waves.inflight--
	p.mu.Unlock()
}

// Waves returns the number of waves of requests since the last Reset:
// how many times the proxy went from idle to busy.
func (p *Proxy) Waves() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waves.count
}
