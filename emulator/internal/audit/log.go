// Package audit keeps the local endpoint's record of calls, in the shape of
// CloudTrail management events, and answers CloudTrail LookupEvents over it.
//
// The log is a bounded ring in memory (DefaultCapacity events, the oldest
// dropped first); it does not survive a restart of the endpoint. CloudTrail
// keeps 90 days; tests and demos need minutes.
package audit

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// DefaultCapacity is how many events a Log keeps unless told otherwise.
const DefaultCapacity = 10000

// Log records awsapi.Events; it implements awsapi.Auditor. Safe for
// concurrent use.
type Log struct {
	account string

	mu      sync.Mutex
	entries []entry // ring
	next    int     // where the next entry goes
	full    bool
	seq     uint64
}

type entry struct {
	seq uint64
	id  string
	ev  awsapi.Event
}

// New returns a log keeping up to capacity events (DefaultCapacity if <= 0)
// for the given account, which is written into each record.
func New(account string, capacity int) *Log {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Log{account: account, entries: make([]entry, capacity)}
}

// Record implements awsapi.Auditor.
func (l *Log) Record(ev awsapi.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.Username == "" {
		ev.Username = userName(ev.PrincipalARN)
	}
	// Copy what the caller may still change.
	ev.Resources = append([]string(nil), ev.Resources...)
	if ev.EncryptionContext != nil {
		ec := make(map[string]string, len(ev.EncryptionContext))
		for k, v := range ev.EncryptionContext {
			ec[k] = v
		}
		ev.EncryptionContext = ec
	}
	id := newEventID()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.entries[l.next] = entry{seq: l.seq, id: id, ev: ev}
	l.next++
	if l.next == len(l.entries) {
		l.next, l.full = 0, true
	}
}

// Events returns the recorded events, oldest first.
func (l *Log) Events() []awsapi.Event {
	es := l.snapshot()
	out := make([]awsapi.Event, len(es))
	for i, e := range es {
		out[len(es)-1-i] = e.ev
	}
	return out
}

// snapshot returns the entries newest first.
func (l *Log) snapshot() []entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.entries)
	}
	out := make([]entry, 0, n)
	for i := 0; i < n; i++ {
		j := (l.next - 1 - i + len(l.entries)) % len(l.entries)
		out = append(out, l.entries[j])
	}
	return out
}

func userName(principalARN string) string {
	if strings.HasSuffix(principalARN, ":root") {
		return "root"
	}
	if i := strings.LastIndexByte(principalARN, '/'); i >= 0 {
		return principalARN[i+1:]
	}
	return ""
}

func newEventID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
