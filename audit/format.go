package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON prints the report as one JSON object (docs/policy.md, "audit").
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints one line per call, oldest first, then one line per
// principal:
//
//	2026-12-03T16:40:01Z  DENIED   arn:aws:iam::123456789012:user/snoop  kms:Decrypt (via SSM)  /ts/node1  AccessDeniedException: …
//	2026-12-03T16:40:02Z  decrypt  arn:aws:iam::123456789012:role/node1  kms:Decrypt (via SSM)  /ts/node1
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CloudTrail for %s from %s to %s: %d calls\n", r.ParameterARN,
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), len(r.Entries))
	for _, e := range r.Entries {
		status := e.Kind
		if e.Denied {
			status = "DENIED"
		} else if e.Absent {
			status = "absent"
		} else if e.DryRun {
			status = "dry-run"
		} else if e.Error != "" {
			status = "FAILED"
		}
		act := e.Action
		if e.ViaSSM {
			act += " (via SSM)"
		}
		line := fmt.Sprintf("%s  %-7s  %s  %s  %s", e.Time.UTC().Format(time.RFC3339), status, e.Principal, act, shortParam(e.Parameter))
		if e.Error != "" && !e.DryRun {
			line += "  " + oneLine(e.Error)
		}
		b.WriteString(line + "\n")
	}
	if len(r.Principals) > 0 {
		b.WriteString("by principal:\n")
	}
	for _, p := range r.Principals {
		fmt.Fprintf(&b, "  %s: %d decrypts, %d reads, %d writes, %d deletes, %d denied, %d failed\n",
			p.Principal, p.Decrypts, p.Reads, p.Writes, p.Deletes, p.Denied, p.Failed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortParam prints a parameter ARN as its name.
func shortParam(p string) string {
	if i := strings.Index(p, ":parameter/"); i >= 0 && strings.HasPrefix(p, "arn:") {
		return "/" + p[i+len(":parameter/"):]
	}
	return p
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
