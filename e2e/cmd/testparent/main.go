// Command testparent is a stand-in for the public DNS in demonstrations of
// the zone lifecycle (deploy/local/run.sh with ACTIVATION=delegation): it
// answers, authoritatively and recursively alike, what a zone-file-style
// file says, re-reading the file when it changes. Editing the file plays
// the registrar: add "example.com. 300 IN NS <assigned nameserver>" lines
// to delegate a zone, remove them to move it away.
//
//	bin/testparent -listen 127.0.0.1:8054 -file .data/parent.zone
package main

import (
	"bufio"
	"flag"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

type parent struct {
	file string
	mu   sync.Mutex
	mod  time.Time
	rrs  []dns.RR
}

// load re-reads the file when its modification time changed; a line that
// does not parse is skipped with a log line.
func (p *parent) load() []dns.RR {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := os.Stat(p.file)
	if err != nil {
		p.rrs, p.mod = nil, time.Time{}
		return nil
	}
	if st.ModTime().Equal(p.mod) {
		return p.rrs
	}
	f, err := os.Open(p.file)
	if err != nil {
		return p.rrs
	}
	defer f.Close()
	var rrs []dns.RR
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "#") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			log.Printf("skipped %q: %v", line, err)
			continue
		}
		rrs = append(rrs, rr)
	}
	p.rrs, p.mod = rrs, st.ModTime()
	return rrs
}

func (p *parent) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative, m.RecursionAvailable = true, true
	if len(r.Question) == 1 {
		q := r.Question[0]
		for _, rr := range p.load() {
			if strings.EqualFold(rr.Header().Name, q.Name) && rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	_ = w.WriteMsg(m)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8054", "UDP address to answer on")
	file := flag.String("file", ".data/parent.zone", "zone-file lines to answer from (re-read when changed)")
	flag.Parse()
	srv := &dns.Server{Addr: *listen, Net: "udp", Handler: &parent{file: *file}}
	log.Printf("test parent answering from %s on %s", *file, *listen)
	if err := srv.ListenAndServe(); err != nil {
		log.Fatal(err)
	}
}
