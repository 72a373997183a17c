package demo

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// The demo node's Tailscale profile id and the key that holds its prefs.
const (
	profileID  = "a1b2"
	profileKey = "profile-" + profileID
)

// fakeHex is 2n hex digits that look random and are the same on every run,
// so that sizes (and tests) are stable while no real key appears anywhere.
func fakeHex(label string, n int) string {
	var out []byte
	for i := 0; len(out) < n; i++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "ssmstate demo %s %d", label, i))
		out = append(out, sum[:]...)
	}
	return hex.EncodeToString(out[:n])
}

// The made-up key material of the demo node, in Tailscale's text forms.
var (
	machineKey = "privkey:" + fakeHex("machine key", 32)
	nodeKey    = "privkey:" + fakeHex("node key", 32)
	nlKey      = "nlpriv:" + fakeHex("network lock key", 32)
)

// NodeState is the state the demo stores: the keys a Tailscale node writes
// on its first login (machine key, login profiles, the profile's prefs with
// the node key, the current-profile pointer), with made-up but realistic
// values. The demo never prints them.
func NodeState() map[string][]byte {
	profiles := `{"` + profileID + `":{"ID":"` + profileID + `","Name":"demo@example.com",` +
		`"NetworkProfile":{"MagicDNSName":"tail1d2e3.ts.net","DomainName":"example.com"},` +
		`"Key":"` + profileKey + `","UserProfile":{"ID":6123456789012345,"LoginName":"demo@example.com",` +
		`"DisplayName":"Demo User","ProfilePicURL":""},"NodeID":"nDeMo1CNTRL","LocalUserID":"",` +
		`"ControlURL":"https://controlplane.tailscale.com"}}`
	prefs := `{"ControlURL":"https://controlplane.tailscale.com","RouteAll":false,"ExitNodeID":"",` +
		`"ExitNodeIP":"","InternalExitNodePrior":"","ExitNodeAllowLANAccess":false,"CorpDNS":true,` +
		`"RunSSH":false,"RunWebClient":false,"WantRunning":true,"LoggedOut":false,"ShieldsUp":false,` +
		`"AdvertiseTags":["tag:demo"],"Hostname":"node1","NotepadURLs":false,"AdvertiseRoutes":null,` +
		`"AdvertiseServices":null,"NoSNAT":false,"NoStatefulFiltering":true,"NetfilterMode":2,` +
		`"AutoUpdate":{"Check":true,"Apply":null},"AppConnector":{"Advertise":false},` +
		`"PostureChecking":false,"NetfilterKind":"","DriveShares":null,"RelayServerPort":null,` +
		`"AllowSingleHosts":true,"Config":{"PrivateNodeKey":"` + nodeKey + `",` +
		`"OldPrivateNodeKey":"privkey:0000000000000000000000000000000000000000000000000000000000000000",` +
		`"UserProfile":{"ID":6123456789012345,"LoginName":"demo@example.com","DisplayName":"Demo User",` +
		`"ProfilePicURL":"","Roles":[]},"NetworkLockKey":"` + nlKey + `","NodeID":"nDeMo1CNTRL"}}`
	return map[string][]byte{
		"_machinekey":      []byte(machineKey),
		"_profiles":        []byte(profiles),
		profileKey:         []byte(prefs),
		"_current-profile": []byte(profileKey),
	}
}

// Secrets are the strings the demo must never print: every secret value
// raw and base64-encoded (as the state's JSON holds it), and the key
// material inside them. The _current-profile value is left out: it is the
// name of a key ("profile-…"), which the demo does print.
func Secrets() []string {
	var out []string
	for k, v := range NodeState() {
		if k == "_current-profile" {
			continue
		}
		out = append(out, string(v), base64.StdEncoding.EncodeToString(v))
	}
	for _, k := range []string{machineKey, nodeKey, nlKey} {
		out = append(out, k[strings.IndexByte(k, ':')+1:])
	}
	return out
}
