// Package iam gives the local endpoint AWS's access control: principals with
// access keys loaded from a file, SigV4 signature verification, and the
// evaluation of identity policies and KMS key policies.
package iam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Config is the IAM file: the account and its principals. The format is
// documented in docs/iam-file.md.
type Config struct {
	// Account is the account id that owns the endpoint's resources and the
	// principals, e.g. "123456789012".
	Account    string      `json:"account"`
	Principals []Principal `json:"principals"`
}

// Principal is one IAM user or role with its credentials and inline
// identity policies.
type Principal struct {
	// ARN is e.g. arn:aws:iam::123456789012:user/node1 or
	// arn:aws:iam::123456789012:role/node1.
	ARN             string `json:"arn"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	// SessionToken, when set, must be sent as X-Amz-Security-Token (as with
	// temporary credentials); when empty, a request carrying one is refused.
	SessionToken string `json:"sessionToken,omitempty"`
	// Policies are inline identity policy documents
	// ({"Version": "2012-10-17", "Statement": [...]}).
	Policies []json.RawMessage `json:"policies,omitempty"`
}

// Load reads and validates the IAM file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read IAM file: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("IAM file %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates an IAM file's JSON. Unknown fields are errors
// so that a misspelt key does not silently grant or deny.
func Parse(b []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode JSON: %w (see docs/iam-file.md for the format)", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks that every principal has a well-formed ARN in the account,
// a unique access key and a secret, and that every policy parses.
func (c *Config) Validate() error {
	if len(c.Account) != 12 || strings.Trim(c.Account, "0123456789") != "" {
		return fmt.Errorf("account %q is not a 12-digit AWS account id; set \"account\"", c.Account)
	}
	seen := map[string]string{}
	for i, p := range c.Principals {
		a, err := arn.Parse(p.ARN)
		if err != nil || a.Service != "iam" {
			return fmt.Errorf("principal %d: arn %q is not an IAM ARN like arn:aws:iam::%s:user/NAME", i, p.ARN, c.Account)
		}
		if a.AccountID != c.Account {
			return fmt.Errorf("principal %s: its account %s is not the file's account %s", p.ARN, a.AccountID, c.Account)
		}
		if a.Resource != "root" && !strings.HasPrefix(a.Resource, "user/") && !strings.HasPrefix(a.Resource, "role/") {
			return fmt.Errorf("principal %s: resource must be root, user/NAME or role/NAME", p.ARN)
		}
		if p.AccessKeyID == "" || p.SecretAccessKey == "" {
			return fmt.Errorf("principal %s: accessKeyId and secretAccessKey are required", p.ARN)
		}
		if other, dup := seen[p.AccessKeyID]; dup {
			return fmt.Errorf("access key %s is given to both %s and %s; access keys must be unique", p.AccessKeyID, other, p.ARN)
		}
		seen[p.AccessKeyID] = p.ARN
		for j, raw := range p.Policies {
			if _, err := ParsePolicy(raw); err != nil {
				return fmt.Errorf("principal %s: policy %d: %w", p.ARN, j, err)
			}
		}
	}
	return nil
}

// UserName is the name CloudTrail shows for a principal: the last path
// element of a user or role ARN, or "root".
func UserName(principalARN string) string {
	a, err := arn.Parse(principalARN)
	if err != nil {
		return principalARN
	}
	if a.Resource == "root" {
		return "root"
	}
	r := a.Resource
	if i := strings.LastIndexByte(r, '/'); i >= 0 {
		r = r[i+1:]
	}
	return r
}
