package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"
)

// Item is one key of a node's state and its value.
type Item struct {
	Key   string
	Value []byte
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// nodeState is the state a tsnet node writes, shaped and sized like the
// trace in REFERENCE.md: its first-login writes in order, and its restart
// writes (one unchanged).
type nodeState struct {
	profileID string
	machine   []byte
	current   []byte
	serve     []byte
	profiles  func(gen int) []byte
	profile   func(gen int) []byte
}

func newNodeState(host string) *nodeState {
	id := randHex(2)
	nodeKey, nlKey, userID := randHex(32), randHex(32), randHex(6)
	// Fixed per node, so that the same generation gives the same bytes.
	pic, nodeID := randHex(24), "n"+randHex(8)+"CNTRL"
	s := &nodeState{
		profileID: id,
		machine:   []byte("privkey:" + randHex(32)), // 72 bytes, as _machinekey
		current:   []byte("profile-" + id),
		serve:     []byte(`{"TCP":{"443":{"HTTPS":true}},"Web":{"` + host + `.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:8080"}}}}}`),
	}
	s.profiles = func(gen int) []byte {
		b, _ := json.Marshal(map[string]any{id: map[string]any{
			"ID": id, "Name": "bench@example.com", "Key": "profile-" + id,
			"NetworkProfile": map[string]any{"MagicDNSName": "tail1234.ts.net", "DomainName": "example.com"},
			"UserProfile": map[string]any{
				"ID": userID, "LoginName": "bench@example.com", "DisplayName": "Bench User",
				"ProfilePicURL": "https://lh3.googleusercontent.com/a/" + pic,
			},
			"NodeID": nodeID, "LocalUserID": "", "ControlURL": "https://controlplane.tailscale.com",
			"LastRefresh": fmt.Sprintf("2026-12-03T16:%02d:00Z", gen%60),
		}})
		return b
	}
	s.profile = func(gen int) []byte {
		b, _ := json.MarshalIndent(map[string]any{
			"ControlURL": "https://controlplane.tailscale.com", "RouteAll": false, "ExitNodeID": "",
			"ExitNodeIP": "", "InternalExitNodePrior": "", "ExitNodeAllowLANAccess": false,
			"CorpDNS": true, "RunSSH": false, "RunWebClient": false, "WantRunning": true,
			"LoggedOut": false, "ShieldsUp": false, "AdvertiseTags": []string{"tag:server"},
			"Hostname": host, "NotepadURLs": false, "AdvertiseRoutes": nil, "NoSNAT": false,
			"NoStatefulFiltering": true, "NetfilterMode": 2, "AutoUpdate": map[string]any{"Check": true, "Apply": nil},
			"AppConnector": map[string]any{"Advertise": false}, "PostureChecking": false,
			"Config": map[string]any{
				"PrivateNodeKey": "privkey:" + nodeKey, "OldPrivateNodeKey": "privkey:0000000000000000000000000000000000000000000000000000000000000000",
				"UserProfile":    map[string]any{"ID": userID, "LoginName": "bench@example.com", "DisplayName": "Bench User"},
				"NetworkLockKey": "nlpriv:" + nlKey, "NodeID": nodeID,
			},
			"Persist.Generation": gen,
		}, "", "  ")
		return b
	}
	return s
}

// firstLogin is the 5 writes of a node's first login, in the trace's order.
func (s *nodeState) firstLogin() []Item {
	return []Item{
		{"_machinekey", s.machine},
		{"_profiles", s.profiles(0)},
		{"profile-" + s.profileID, s.profile(0)},
		{"_current-profile", s.current},
		{"_serve/" + s.profileID, s.serve},
	}
}

// restart is the 3 writes of restart number gen (1, 2, …): the profile and
// the profile list change, the current profile is written unchanged.
func (s *nodeState) restart(gen int) []Item {
	return []Item{
		{"profile-" + s.profileID, s.profile(gen)},
		{"_profiles", s.profiles(gen)},
		{"_current-profile", s.current},
	}
}

// certPair makes a TLS certificate for host signed by ca, as PEM, and its
// key, as Tailscale's cert store keeps them ("<domain>.crt", "<domain>.key").
func certPair(host string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (crt, key []byte) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	crt = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	crt = append(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...) // chain
	kd, _ := x509.MarshalECPrivateKey(k)
	key = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	return crt, key
}

func newCA() (*x509.Certificate, *ecdsa.PrivateKey) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Bench Issuing CA", Organization: []string{"ssmstate bench"}},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	ca, _ := x509.ParseCertificate(der)
	return ca, k
}

// sizedState returns a realistic state of at least target bytes of values
// (or the node keys alone when target is smaller): the first-login state,
// then an ACME account key, then TLS certificate chains and keys for more
// and more domains.
func sizedState(target int) []Item {
	ns := newNodeState("bench")
	items := []Item{
		{"_machinekey", ns.machine},
		{"_current-profile", ns.current},
		{"_profiles", ns.profiles(0)},
	}
	total := 0
	for _, it := range items {
		total += len(it.Value)
	}
	more := []Item{
		{"acme-account.key.pem", nil},
		{"profile-" + ns.profileID, ns.profile(0)},
		{"_serve/" + ns.profileID, ns.serve},
	}
	ca, caKey := caPair()
	_, acct := certPair("acme", ca, caKey)
	more[0].Value = acct
	for _, it := range more {
		if total >= target {
			return items
		}
		items = append(items, it)
		total += len(it.Value)
	}
	for i := 0; total < target; i++ {
		host := fmt.Sprintf("svc%04d.tail1234.ts.net", i)
		crt, key := certPair(host, ca, caKey)
		items = append(items, Item{host + ".crt", crt}, Item{host + ".key", key})
		total += len(crt) + len(key)
	}
	return items
}

// caPair is the issuing CA of the benchmark's certificates.
var caPair = sync.OnceValues(newCA)

// stateSize is the bytes of the values.
func stateSize(items []Item) int {
	n := 0
	for _, it := range items {
		n += len(it.Value)
	}
	return n
}

// encodedSize is the size of the state in awsstore's format (indented
// JSON of base64 values), which is what a single parameter must hold.
func encodedSize(items []Item) int {
	m := map[string][]byte{}
	for _, it := range items {
		m[it.Key] = it.Value
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return len(b)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", float64(n)/(1<<20)), ".00") + " MiB"
	case n >= 1<<10:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<10)), ".0") + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}
