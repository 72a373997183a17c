package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// WriteJSON prints p as one JSON object: the identity policy, the key-policy
// statements and the notes (docs/policy.md).
func (p *Policy) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// terraformName is a Terraform identifier derived from the parameter name.
func (p *Policy) terraformName() string {
	name := p.ParameterARN[strings.Index(p.ParameterARN, ":parameter/")+len(":parameter/"):]
	s := strings.Trim(nonIdent.ReplaceAllString(name, "_"), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "state_" + s
	}
	return "ssmstate_" + s
}

// WriteTerraform prints p as aws_iam_policy_document data sources: NAME for
// the identity policy and NAME_key_policy for the key-policy statements.
func (p *Policy) WriteTerraform(w io.Writer) error {
	var b strings.Builder
	name := p.terraformName()
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "# %s\n", strings.ReplaceAll(n, "\n", "\n# "))
	}
	fmt.Fprintf(&b, "# Identity policy of the node that keeps its state in %s.\n", p.ParameterARN)
	writeDoc(&b, name, p.Identity.Statement)
	if len(p.KeyPolicy) > 0 {
		b.WriteString("\n# Statements the owner of the KMS key adds to its key policy.\n")
		writeDoc(&b, name+"_key_policy", p.KeyPolicy)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDoc(b *strings.Builder, name string, sts []Statement) {
	fmt.Fprintf(b, "data \"aws_iam_policy_document\" %q {\n", name)
	for i, s := range sts {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("  statement {\n")
		if s.Sid != "" {
			fmt.Fprintf(b, "    sid       = %s\n", hclString(s.Sid))
		}
		fmt.Fprintf(b, "    effect    = %s\n", hclString(s.Effect))
		for _, typ := range sortedKeys(s.Principal) {
			b.WriteString("    principals {\n")
			fmt.Fprintf(b, "      type        = %s\n", hclString(typ))
			fmt.Fprintf(b, "      identifiers = %s\n", hclList(s.Principal[typ]))
			b.WriteString("    }\n")
		}
		fmt.Fprintf(b, "    actions   = %s\n", hclList(s.Action))
		fmt.Fprintf(b, "    resources = %s\n", hclList(s.Resource))
		for _, op := range sortedKeys(s.Condition) {
			for _, key := range sortedKeys(s.Condition[op]) {
				b.WriteString("    condition {\n")
				fmt.Fprintf(b, "      test     = %s\n", hclString(op))
				fmt.Fprintf(b, "      variable = %s\n", hclString(key))
				fmt.Fprintf(b, "      values   = %s\n", hclList(s.Condition[op][key]))
				b.WriteString("    }\n")
			}
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
}

// hclString quotes s for HCL; "${" and "%{" would start a template.
func hclString(s string) string {
	q, _ := json.Marshal(s)
	out := strings.ReplaceAll(string(q), "${", "$${")
	return strings.ReplaceAll(out, "%{", "%%{")
}

func hclList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = hclString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
