// Package policy writes the least-privilege IAM policy for one state
// locator: the SSM actions the store and doctor use on exactly the node's
// parameter, its parts and its side parameter, and the KMS actions on
// exactly the node's key, conditioned on the parameter's encryption context
// and on Parameter Store being the caller (kms:ViaService). It also writes
// the statements the key's owner adds to the key policy. docs/policy.md
// explains every statement and why it is there.
package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmstate/ssmstate/locator"
)

// Statement ids, stable: tests and users refer to them.
const (
	SidState        = "StateParameters"
	SidListParts    = "ListStateParts"
	SidDescribeKey  = "DescribeStateKey"
	SidUseKeyViaSSM = "UseStateKeyThroughSSM"
	// SidDoctorProbes and SidKeyDoctor named the statements for doctor's
	// direct KMS DryRun probes; doctor now proves its KMS rights through
	// SSM, and Generate no longer writes them.
	SidDoctorProbes  = "DoctorKMSProbes"
	SidKeyUseViaSSM  = "AllowNodeUseThroughSSM"
	SidKeyDescribe   = "AllowNodeDescribeKey"
	SidKeyDoctor     = "AllowNodeDoctorProbes"
	encryptionCtxKey = "kms:EncryptionContext:PARAMETER_ARN"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement. Condition maps an operator to a
// condition key to its values.
type Statement struct {
	Sid       string                         `json:"Sid,omitempty"`
	Effect    string                         `json:"Effect"`
	Principal map[string][]string            `json:"Principal,omitempty"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// Options configure Generate.
type Options struct {
	// KeyARN is the ARN of the locator's key, when the locator names an
	// alias: ResolveKey finds it. Empty with an alias gives the alias-based
	// form (see Policy.Notes).
	KeyARN string
	// RoleARN is the node's principal, named in the key-policy statements.
	// Empty gives a placeholder role in the locator's account.
	RoleARN string
	// NoDoctor leaves out what only `ssmstate doctor` uses:
	// kms:GetKeyRotationStatus (doctor then FAILs kms-key-rotation).
	NoDoctor bool
}

// Policy is what Generate returns.
type Policy struct {
	Locator      string `json:"locator"`
	ParameterARN string `json:"parameterArn"`
	// KeyARN is the key's ARN; empty when it could not be named (an
	// unresolved alias, or no kmsKey: SSM's AWS managed key).
	KeyARN string `json:"keyArn,omitempty"`
	// Identity is the node principal's identity policy.
	Identity Document `json:"identityPolicy"`
	// KeyPolicy holds the statements the key's owner adds to the key
	// policy (none for the AWS managed key, whose policy cannot change).
	KeyPolicy []Statement `json:"keyPolicyStatements,omitempty"`
	Notes     []string    `json:"notes,omitempty"`
}

// ParameterResources are the SSM parameter ARNs the store touches for loc:
// the main parameter, its parts (N.part-<gen>-<i>) and the side parameter
// used while the main one is recreated (N.moving), per docs/format.md.
func ParameterResources(loc locator.Locator) []string {
	p := loc.ParameterARN()
	return []string{p, p + ".part-*", p + ".moving"}
}

// ViaService is the kms:ViaService value of Parameter Store's calls in
// loc's Region: ssm.REGION.amazonaws.com (.amazonaws.com.cn in China).
func ViaService(loc locator.Locator) string {
	suffix := ".amazonaws.com"
	if loc.Partition == "aws-cn" {
		suffix += ".cn"
	}
	return "ssm." + loc.Region + suffix
}

// DescribeKeyAPI is the call ResolveKey needs; *kms.Client has it.
type DescribeKeyAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

// NeedsResolving reports whether loc's key is named by an alias, whose key
// ARN only KMS can tell.
func NeedsResolving(loc locator.Locator) bool {
	return isAlias(loc.KMSKey)
}

func isAlias(k string) bool {
	if strings.HasPrefix(k, "alias/") {
		return true
	}
	if a, err := arn.Parse(k); err == nil && strings.HasPrefix(a.Resource, "alias/") {
		return true
	}
	return false
}

// ResolveKey returns the ARN of loc's key with one DescribeKey call.
func ResolveKey(ctx context.Context, c DescribeKeyAPI, loc locator.Locator) (string, error) {
	if loc.KMSKey == "" {
		return "", errors.New("the locator names no kmsKey: SSM's AWS managed key aws/ssm has no key policy to change")
	}
	out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(loc.KMSKey)})
	if err != nil {
		return "", fmt.Errorf("resolve KMS key %s in %s with kms:DescribeKey: %w (use --offline to print the alias-based policy, or give credentials allowed kms:DescribeKey on the key)", loc.KMSKey, loc.Region, err)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// keyARN is the key's ARN when it follows from the locator alone (a key
// ARN, or a key id in the parameter's account and Region).
func keyARN(loc locator.Locator) string {
	k := loc.KMSKey
	switch {
	case k == "" || isAlias(k):
		return ""
	case strings.HasPrefix(k, "arn:"):
		return k
	}
	return "arn:" + loc.Partition + ":kms:" + loc.Region + ":" + loc.Account + ":key/" + k
}

// Generate writes the policy for loc, an SSM locator.
func Generate(loc locator.Locator, o Options) (*Policy, error) {
	if loc.Kind != locator.KindSSM {
		return nil, fmt.Errorf("locator %s is not an SSM parameter ARN: only SSM state needs an IAM policy", loc)
	}
	p := &Policy{Locator: loc.String(), ParameterARN: loc.ParameterARN()}
	params := ParameterResources(loc)
	id := &p.Identity
	id.Version = "2012-10-17"
	// What store/ssmparam calls: GetParameters (Load: N and N.moving, then
	// parts ten at a time), GetParameter (the commit's version check),
	// PutParameter (parts, commit, N.moving), DeleteParameter (recreating
	// N on a type change; doctor's probe) and DeleteParameters (cleanup).
	id.Statement = append(id.Statement, Statement{
		Sid: SidState, Effect: "Allow",
		Action:   []string{"ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter"},
		Resource: params,
	}, Statement{
		// The store's sweep of abandoned parts and doctor's parameter
		// check list parameters; DescribeParameters has no resource-level
		// permissions in IAM, so "*" is the only resource it takes.
		Sid: SidListParts, Effect: "Allow",
		Action: []string{"ssm:DescribeParameters"}, Resource: []string{"*"},
	})

	if loc.KMSKey == "" {
		p.Notes = append(p.Notes, "the locator names no kmsKey: the state is encrypted under SSM's AWS managed key aws/ssm, whose key policy lets every principal of the account with ssm:GetParameter decrypt it; no KMS statement can narrow that. Create a customer managed key and add ?kmsKey=alias/NAME to the locator.")
		return p, nil
	}

	key := o.KeyARN
	if key == "" {
		key = keyARN(loc)
	}
	p.KeyARN = key
	keyRes := []string{key}
	var aliasCond map[string][]string
	if key == "" {
		// IAM cannot name a key by its alias in Resource: allow the
		// account's keys in the Region that carry the alias.
		alias := loc.KMSKey
		if a, err := arn.Parse(alias); err == nil {
			alias = a.Resource
		}
		keyRes = []string{"arn:" + loc.Partition + ":kms:" + loc.Region + ":" + loc.Account + ":key/*"}
		aliasCond = map[string][]string{"kms:ResourceAliases": {alias}}
		p.Notes = append(p.Notes, fmt.Sprintf("offline: the key is named by its alias %s, and IAM cannot scope KMS actions by alias in Resource; these statements allow the keys of account %s in %s that carry the alias (condition kms:ResourceAliases). Run without --offline, with credentials allowed kms:DescribeKey, to scope them to the key's ARN.", alias, loc.Account, loc.Region))
	}
	crypto := []string{"kms:Decrypt", "kms:Encrypt"}
	if loc.Advanced {
		// Advanced parts (tier=advanced) are envelope-encrypted; the main
		// parameter stays Standard while it fits, so Encrypt stays too.
		crypto = append(crypto, "kms:GenerateDataKey")
	}
	viaSSM := map[string]map[string][]string{
		"StringEquals": {"kms:ViaService": {ViaService(loc)}},
		"StringLike":   {encryptionCtxKey: params},
	}
	describe := []string{"kms:DescribeKey"}
	if !o.NoDoctor {
		describe = append(describe, "kms:GetKeyRotationStatus")
	}
	withAlias := func(c map[string]map[string][]string) map[string]map[string][]string {
		if aliasCond == nil {
			return c
		}
		out := map[string]map[string][]string{"ForAnyValue:StringEquals": aliasCond}
		for op, kv := range c {
			out[op] = kv
		}
		return out
	}
	id.Statement = append(id.Statement,
		Statement{Sid: SidDescribeKey, Effect: "Allow", Action: describe, Resource: keyRes, Condition: withAlias(nil)},
		Statement{Sid: SidUseKeyViaSSM, Effect: "Allow", Action: crypto, Resource: keyRes, Condition: withAlias(viaSSM)},
	)

	role := o.RoleARN
	if role == "" {
		role = "arn:" + loc.Partition + ":iam::" + loc.Account + ":role/NODE_ROLE"
		p.Notes = append(p.Notes, "the key-policy statements name the placeholder "+role+"; give --role-arn with the node's role")
	}
	principal := map[string][]string{"AWS": {role}}
	// In a key policy, Resource "*" means this key.
	p.KeyPolicy = append(p.KeyPolicy,
		Statement{Sid: SidKeyDescribe, Effect: "Allow", Principal: principal, Action: describe, Resource: []string{"*"}},
		Statement{Sid: SidKeyUseViaSSM, Effect: "Allow", Principal: principal, Action: crypto, Resource: []string{"*"}, Condition: viaSSM},
	)
	p.Notes = append(p.Notes, "the key-policy statements are needed only when the key policy does not delegate to IAM (no statement allowing arn:"+loc.Partition+":iam::"+loc.Account+":root kms:*); a key with KMS's default key policy needs none of them")
	return p, nil
}
