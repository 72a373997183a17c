package iam

import (
	"fmt"
	"strings"
)

// The condition operators the endpoint evaluates. Numeric, Date, IpAddress
// and Binary operators are refused when a policy is loaded, so that a policy
// never silently means something else here than on AWS.
var operators = map[string]struct {
	negated bool
	match   func(policyValue, requestValue string) bool
}{
	"StringEquals":              {false, func(p, r string) bool { return p == r }},
	"StringNotEquals":           {true, func(p, r string) bool { return p == r }},
	"StringEqualsIgnoreCase":    {false, strings.EqualFold},
	"StringNotEqualsIgnoreCase": {true, strings.EqualFold},
	"StringLike":                {false, wildcardMatch},
	"StringNotLike":             {true, wildcardMatch},
	// ArnEquals and ArnLike behave alike: both accept wildcards in each of
	// the ARN's six colon-separated parts (IAM User Guide, "ARN condition
	// operators").
	"ArnEquals":    {false, arnLike},
	"ArnLike":      {false, arnLike},
	"ArnNotEquals": {true, arnLike},
	"ArnNotLike":   {true, arnLike},
	"Bool":         {false, strings.EqualFold},
	"Null":         {false, nil}, // handled on its own
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(op string) (base string, ifExists bool, set string, err error) {
	base = op
	if i := strings.IndexByte(base, ':'); i >= 0 {
		set, base = base[:i], base[i+1:]
		if set != "ForAnyValue" && set != "ForAllValues" {
			return "", false, "", fmt.Errorf("condition operator %q: the qualifier must be ForAnyValue or ForAllValues", op)
		}
	}
	if b, ok := strings.CutSuffix(base, "IfExists"); ok && base != "Null" {
		base, ifExists = b, true
	}
	if _, ok := operators[base]; !ok {
		return "", false, "", fmt.Errorf("condition operator %q is not supported by the local endpoint (supported: String*, Arn*, Bool, Null, with IfExists and ForAnyValue/ForAllValues)", op)
	}
	return base, ifExists, set, nil
}

// matchesConditions reports whether every condition of the statement holds.
// Operators and keys are ANDed; the values listed for one key are ORed.
func (s *Statement) matchesConditions(ctx map[string][]string) bool {
	for op, keys := range s.Condition {
		base, ifExists, set, err := parseOperator(op)
		if err != nil {
			return false // unreachable: ParsePolicy refused it
		}
		for key, values := range keys {
			if !conditionHolds(base, ifExists, set, ctx[strings.ToLower(key)], values) {
				return false
			}
		}
	}
	return true
}

func conditionHolds(base string, ifExists bool, set string, reqValues, policyValues []string) bool {
	present := len(reqValues) > 0
	if base == "Null" {
		// Null "true": the key must be absent; "false": present.
		for _, v := range policyValues {
			if strings.EqualFold(v, "true") != present {
				return true
			}
		}
		return false
	}
	op := operators[base]
	if !present {
		switch {
		case ifExists:
			return true
		case set == "ForAllValues":
			return true // vacuously true for an empty set, as on AWS
		case set == "ForAnyValue":
			return false
		default:
			// A missing key never matches; a negated operator is then true.
			return op.negated
		}
	}
	// one reports whether a single request value satisfies the operator.
	one := func(rv string) bool {
		hit := false
		for _, pv := range policyValues {
			if op.match(pv, rv) {
				hit = true
				break
			}
		}
		return hit != op.negated
	}
	switch set {
	case "ForAllValues":
		for _, rv := range reqValues {
			if !one(rv) {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, rv := range reqValues {
			if one(rv) {
				return true
			}
		}
		return false
	default:
		// A single-valued key: with a negated operator no request value may
		// match; otherwise one must.
		if op.negated {
			for _, rv := range reqValues {
				if !one(rv) {
					return false
				}
			}
			return true
		}
		for _, rv := range reqValues {
			if one(rv) {
				return true
			}
		}
		return false
	}
}

// arnLike matches an ARN against a pattern part by part.
func arnLike(pattern, value string) bool {
	pp := strings.SplitN(pattern, ":", 6)
	vp := strings.SplitN(value, ":", 6)
	if len(pp) != 6 || len(vp) != 6 {
		return pattern == "*" || wildcardMatch(pattern, value)
	}
	for i := range pp {
		if !wildcardMatch(pp[i], vp[i]) {
			return false
		}
	}
	return true
}
