// Package locator parses and prints the strings that name where a state
// lives: an SSM parameter ARN (read as Tailscale's ipn/store/awsstore reads
// it), a file path, or a process-wide in-memory state.
//
// Forms:
//
//	arn:<partition>:ssm:<region>:<account>:parameter/<name>[?kmsKey=<key>][&tier=advanced]
//	mem:            a fresh in-memory state, private to one Open
//	mem:NAME        an in-memory state shared by every Open of mem:NAME in the process
//	anything else   a file in Tailscale's tailscaled.state JSON format
//
// The SSM parameter name is derived as awsstore derives it: everything after
// "parameter" in the ARN's resource, so "parameter/node1" names the SSM
// parameter "/node1" and "parameter/ts/prod/node1" names "/ts/prod/node1".
//
// Options after '?' (URL query syntax; each at most once):
//
//   - kmsKey: the KMS key SecureStrings are encrypted under. A key id (UUID or
//     mrk-…), key ARN, alias/NAME or alias ARN is used as given; a bare NAME
//     (no '/', not an ARN, not a key id) becomes alias/NAME, as in awsstore.
//     Empty means none (SSM's default aws/ssm key). Deviation from awsstore:
//     awsstore turns a bare key id into alias/<id>, which names no key; here a
//     key id is recognised and kept.
//   - tier: "standard" (default) or "advanced". Advanced lets the SSM backend
//     use 8 KB Advanced parameters instead of 4 KB Standard ones (Advanced
//     parameters are charged per month and cannot go back to Standard).
//     awsstore does not know this option, so a locator that uses it is not
//     accepted by tailscaled.
//
// Any other option is an error, as in awsstore.
package locator

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Kind says which backend a locator names.
type Kind int

const (
	// KindFile is a path to a tailscaled.state-format JSON file.
	KindFile Kind = iota + 1
	// KindMem is an in-memory state ("mem:" or "mem:NAME").
	KindMem
	// KindSSM is an SSM parameter ARN.
	KindSSM
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindMem:
		return "mem"
	case KindSSM:
		return "ssm"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MemPrefix starts an in-memory locator.
const MemPrefix = "mem:"

// Limits of SSM parameter names (AWS Systems Manager user guide,
// "Requirements and constraints for parameter names").
const (
	// MaxLevels is the deepest hierarchy SSM accepts.
	MaxLevels = 15
	// MaxARNLength is the longest parameter ARN (ARN prefix and name
	// together) SSM accepts: 2,048 minus 1,037 characters reserved by AWS.
	MaxARNLength = 1011
)

// Locator is a parsed locator. It is comparable: two locators that name the
// same state with the same options are ==.
type Locator struct {
	Kind Kind

	// SSM (KindSSM) fields.
	Partition string // aws, aws-cn, aws-us-gov, …
	Region    string
	Account   string // 12 digits
	// ParameterName is the name passed to SSM, with its leading slash:
	// "/node1", "/ts/prod/node1".
	ParameterName string
	// KMSKey is the key SecureStrings are encrypted under, normalised (a bare
	// NAME became alias/NAME); empty means SSM's default aws/ssm key.
	KMSKey string
	// Advanced is true for tier=advanced.
	Advanced bool

	// Path is the file path (KindFile), exactly as given.
	Path string

	// MemName is the name of a shared in-memory state (KindMem); empty for
	// a private one.
	MemName string
}

// ParameterARN is the parameter's ARN as SSM writes it in the PARAMETER_ARN
// KMS encryption context: arn:<p>:ssm:<r>:<a>:parameter/<name without its
// leading slash>. Empty for locators that are not KindSSM.
func (l Locator) ParameterARN() string {
	if l.Kind != KindSSM {
		return ""
	}
	return "arn:" + l.Partition + ":ssm:" + l.Region + ":" + l.Account + ":parameter/" + strings.TrimPrefix(l.ParameterName, "/")
}

// String prints the locator so that Parse reads it back to the same value.
func (l Locator) String() string {
	switch l.Kind {
	case KindMem:
		return MemPrefix + l.MemName
	case KindFile:
		return l.Path
	case KindSSM:
		s := "arn:" + l.Partition + ":ssm:" + l.Region + ":" + l.Account + ":parameter" + l.ParameterName
		var opts []string
		if l.KMSKey != "" {
			// Validated keys hold only [A-Za-z0-9:/_-], which need no
			// escaping in a query: print them readably.
			opts = append(opts, "kmsKey="+l.KMSKey)
		}
		if l.Advanced {
			opts = append(opts, "tier=advanced")
		}
		if len(opts) > 0 {
			s += "?" + strings.Join(opts, "&")
		}
		return s
	}
	return ""
}

// Example is a well-formed SSM locator, quoted in error messages.
const Example = "arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod"

// Error is a malformed locator.
type Error struct {
	Locator string // the locator as given
	Problem string // what is wrong
	Want    string // what a right one looks like
}

func (e *Error) Error() string {
	return fmt.Sprintf("locator %q: %s; want %s", e.Locator, e.Problem, e.Want)
}

const (
	wantARN  = "an SSM parameter ARN such as " + Example
	wantName = "a parameter name of letters, digits and . - _ in up to 15 levels separated by /, such as parameter/ts/prod/node1"
	wantKey  = "kmsKey= a key id (1234abcd-12ab-34cd-56ef-1234567890ab or mrk-…), a key ARN (arn:aws:kms:us-east-1:123456789012:key/<id>), alias/NAME, an alias ARN (arn:aws:kms:us-east-1:123456789012:alias/NAME) or a bare NAME meaning alias/NAME"
)

var (
	partitions = map[string]bool{
		"aws": true, "aws-cn": true, "aws-us-gov": true,
		"aws-iso": true, "aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
	}
	regionRx   = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)
	accountRx  = regexp.MustCompile(`^[0-9]{12}$`)
	segmentRx  = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	keyIDRx    = regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	aliasRx    = regexp.MustCompile(`^alias/[A-Za-z0-9/_\-]{1,250}$`)
	memNameRx  = regexp.MustCompile(`^[A-Za-z0-9_.\-/]*$`)
	bareNameRx = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,250}$`)
)

// Parse reads a locator. Errors are *Error values that quote the locator,
// say what is wrong and what a right one looks like.
func Parse(s string) (Locator, error) {
	switch {
	case s == "":
		return Locator{}, &Error{Locator: s, Problem: "empty locator", Want: wantARN + ", a file path, or mem:NAME"}
	case strings.HasPrefix(s, MemPrefix):
		name := strings.TrimPrefix(s, MemPrefix)
		if !memNameRx.MatchString(name) {
			return Locator{}, &Error{Locator: s, Problem: fmt.Sprintf("in-memory state name %q has characters other than letters, digits and . - _ /", name), Want: "mem: or mem:NAME such as mem:test1"}
		}
		return Locator{Kind: KindMem, MemName: name}, nil
	case strings.HasPrefix(s, "arn:"):
		return parseSSM(s)
	}
	return Locator{Kind: KindFile, Path: s}, nil
}

func parseSSM(s string) (Locator, error) {
	bad := func(format string, args ...any) (Locator, error) {
		return Locator{}, &Error{Locator: s, Problem: fmt.Sprintf(format, args...), Want: wantARN}
	}
	arnPart, query, hasQuery := strings.Cut(s, "?")
	a, err := arn.Parse(arnPart)
	if err != nil {
		return bad("not an ARN of six ':'-separated sections (%v)", err)
	}
	if !partitions[a.Partition] {
		return bad("unknown partition %q (known: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc)", a.Partition)
	}
	if a.Service != "ssm" {
		return bad("service is %q, not \"ssm\": the state lives in an SSM parameter", a.Service)
	}
	if a.Region == "" {
		return bad("missing Region")
	}
	if !regionRx.MatchString(a.Region) {
		return bad("Region %q is not a Region name like us-east-1", a.Region)
	}
	if p := regionPartition(a.Region); p != "" && p != a.Partition {
		return bad("Region %q is in partition %q, not %q", a.Region, p, a.Partition)
	}
	if a.AccountID == "" {
		return bad("missing account")
	}
	if !accountRx.MatchString(a.AccountID) {
		return bad("account %q is not 12 digits", a.AccountID)
	}
	name, ok := strings.CutPrefix(a.Resource, "parameter/")
	if !ok {
		return bad("resource %q is not a parameter: it must start with parameter/", a.Resource)
	}
	if err := checkName(name); err != "" {
		return Locator{}, &Error{Locator: s, Problem: err, Want: wantName}
	}
	l := Locator{
		Kind:          KindSSM,
		Partition:     a.Partition,
		Region:        a.Region,
		Account:       a.AccountID,
		ParameterName: "/" + name,
	}
	if n := len(l.ParameterARN()); n > MaxARNLength {
		return Locator{}, &Error{Locator: s, Problem: fmt.Sprintf("parameter ARN is %d characters, more than SSM's %d", n, MaxARNLength), Want: "a shorter parameter name"}
	}
	if !hasQuery {
		return l, nil
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Locator{}, &Error{Locator: s, Problem: fmt.Sprintf("options after '?' do not parse as a URL query: %v", err), Want: "?kmsKey=alias/NAME&tier=advanced"}
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return Locator{}, &Error{Locator: s, Problem: fmt.Sprintf("option %q is given %d times", k, len(vs)), Want: "each option at most once"}
		}
		v := vs[0]
		switch k {
		case "kmsKey":
			key, problem := normaliseKey(v, l)
			if problem != "" {
				return Locator{}, &Error{Locator: s, Problem: problem, Want: wantKey}
			}
			l.KMSKey = key
		case "tier":
			switch strings.ToLower(v) {
			case "standard":
				l.Advanced = false
			case "advanced":
				l.Advanced = true
			default:
				return Locator{}, &Error{Locator: s, Problem: fmt.Sprintf("tier %q is neither standard nor advanced", v), Want: "tier=standard (4 KB parts, the default) or tier=advanced (8 KB parts)"}
			}
		default:
			return Locator{}, &Error{Locator: s, Problem: fmt.Sprintf("unknown option %q", k), Want: "only the options kmsKey and tier, as in ?kmsKey=alias/NAME&tier=advanced"}
		}
	}
	return l, nil
}

// regionPartition returns the partition a Region belongs to when its name
// says so, or "" when it does not.
func regionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}

// checkName checks a parameter name as written after "parameter/" and
// returns what is wrong with it, or "".
func checkName(name string) string {
	if name == "" {
		return "empty parameter name after parameter/"
	}
	segs := strings.Split(name, "/")
	if len(segs) > MaxLevels {
		return fmt.Sprintf("parameter name %q has %d levels, more than SSM's %d", name, len(segs), MaxLevels)
	}
	for _, seg := range segs {
		if seg == "" {
			return fmt.Sprintf("parameter name %q has an empty level (a doubled or trailing /)", name)
		}
		if !segmentRx.MatchString(seg) {
			return fmt.Sprintf("parameter name %q has characters other than letters, digits, . - _ and /", name)
		}
	}
	if first := strings.ToLower(segs[0]); strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return fmt.Sprintf("parameter name %q begins with \"aws\" or \"ssm\", which SSM reserves", name)
	}
	return ""
}

// normaliseKey checks a kmsKey option against the forms KMS accepts and
// returns it normalised, or what is wrong with it.
func normaliseKey(k string, l Locator) (string, string) {
	switch {
	case k == "":
		return "", ""
	case strings.HasPrefix(k, "arn:"):
		a, err := arn.Parse(k)
		if err != nil {
			return "", fmt.Sprintf("kmsKey %q is not an ARN of six ':'-separated sections", k)
		}
		if a.Service != "kms" {
			return "", fmt.Sprintf("kmsKey %q is an ARN of service %q, not \"kms\"", k, a.Service)
		}
		if a.Partition != l.Partition {
			return "", fmt.Sprintf("kmsKey %q is in partition %q but the parameter is in %q", k, a.Partition, l.Partition)
		}
		if a.Region != l.Region {
			// SSM encrypts with a key in the parameter's own Region.
			return "", fmt.Sprintf("kmsKey %q is in Region %q but the parameter is in %q; SSM only uses keys of its own Region", k, a.Region, l.Region)
		}
		if !accountRx.MatchString(a.AccountID) {
			return "", fmt.Sprintf("kmsKey %q has account %q, not 12 digits", k, a.AccountID)
		}
		if id, ok := strings.CutPrefix(a.Resource, "key/"); ok {
			if !keyIDRx.MatchString(id) {
				return "", fmt.Sprintf("kmsKey %q: key id %q is neither a UUID nor mrk- followed by 32 hex digits", k, id)
			}
			return k, ""
		}
		if aliasRx.MatchString(a.Resource) {
			return k, ""
		}
		return "", fmt.Sprintf("kmsKey %q is a KMS ARN whose resource %q is neither key/<id> nor alias/NAME", k, a.Resource)
	case strings.HasPrefix(k, "alias/"):
		if !aliasRx.MatchString(k) {
			return "", fmt.Sprintf("kmsKey %q: alias name is empty, too long, or has characters other than letters, digits, / _ -", k)
		}
		return k, ""
	case keyIDRx.MatchString(k):
		return k, ""
	case strings.Contains(k, "/"):
		return "", fmt.Sprintf("kmsKey %q has a / but is neither alias/NAME nor an ARN", k)
	case bareNameRx.MatchString(k):
		return "alias/" + k, ""
	}
	return "", fmt.Sprintf("kmsKey %q has characters other than letters, digits, _ -", k)
}
