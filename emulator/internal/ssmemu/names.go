package ssmemu

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// Name rules (AWS Systems Manager User Guide, "Requirements and constraints
// for parameter names"; messages as AWS sends them, see docs/aws-behaviour.md).
const (
	maxNameLength   = 2048 // PSParameterName in the API model
	maxARNLength    = 1011 // "including the full length of the parameter ARN"
	maxHierarchy    = 15
	msgNameRules    = `Parameter name: can't be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`
	msgHierarchyMax = "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the AWS Systems Manager User Guide."
)

var nameChars = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)

// canonical is the key a parameter is stored under: "/foo" and "foo" are the
// same root-level parameter, so every name is keyed with one leading slash.
func canonical(name string) string { return "/" + strings.TrimPrefix(name, "/") }

// parameterARN is arn:<partition>:ssm:<region>:<account>:parameter/<name
// without its leading slash>, the ARN AWS shows and uses as PARAMETER_ARN.
func parameterARN(r *awsapi.Request, name string) string {
	return "arn:" + r.Partition + ":ssm:" + r.Region + ":" + r.Account + ":parameter/" + strings.TrimPrefix(name, "/")
}

// validateName checks a name used to create a parameter.
func validateName(r *awsapi.Request, name string) error {
	if err := validateLookupName(name); err != nil {
		return err
	}
	lower := strings.ToLower(strings.TrimPrefix(name, "/"))
	if strings.HasPrefix(lower, "aws") {
		// Reported from real AWS for the name "awslimitschecker"
		// (aws-solutions/quota-monitor-for-aws#30).
		return &awsapi.Error{Status: 400, Code: "AccessDeniedException", Message: "No access to reserved parameter name: " + name + "."}
	}
	if len(parameterARN(r, name)) > maxARNLength {
		return errValidation("%s", msgNameRules)
	}
	if levels := strings.Count(canonical(name), "/"); levels > maxHierarchy {
		return awsapi.Errorf("HierarchyLevelLimitExceededException", "%s", msgHierarchyMax)
	}
	return nil
}

// validateLookupName checks a name given to read or delete: the character
// rules apply, the reserved "aws" prefix does not (public parameters live there).
func validateLookupName(name string) error {
	if len(name) > maxNameLength {
		return errValidation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to %d", maxNameLength)
	}
	if name == "" || !nameChars.MatchString(name) || strings.Contains(name, "//") || strings.HasSuffix(name, "/") && name != "/" {
		return errValidation("%s", msgNameRules)
	}
	if strings.Contains(strings.TrimPrefix(name, "/"), "/") && !strings.HasPrefix(name, "/") {
		return errValidation("%s", msgNameRules)
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimPrefix(name, "/")), "ssm") {
		return errValidation("%s", msgNameRules)
	}
	return nil
}

// selector is a parsed name given to GetParameter and friends: a name or
// parameter ARN, optionally followed by ":<version>" or ":<label>".
type selector struct {
	name    string
	version int64  // 0 = none
	label   string // "" = none
	raw     string // the selector part as given, e.g. ":3"
}

// parseSelector parses "name", "name:3", "name:label" or a parameter ARN
// "arn:aws:ssm:<region>:<account>:parameter/name[:sel]".
func parseSelector(r *awsapi.Request, s string) (selector, error) {
	if strings.HasPrefix(s, "arn:") {
		parts := strings.SplitN(s, ":", 6)
		if len(parts) < 6 || parts[2] != "ssm" || !strings.HasPrefix(parts[5], "parameter/") {
			return selector{}, errValidation("%s", msgNameRules)
		}
		if parts[3] != r.Region || parts[4] != r.Account {
			// A parameter of another Region or account is not here.
			return selector{}, errParameterNotFound()
		}
		s = strings.TrimPrefix(parts[5], "parameter")
		if strings.Count(s, "/") == 1 {
			s = strings.TrimPrefix(s, "/")
		}
	}
	var sel selector
	name, rest, found := strings.Cut(s, ":")
	sel.name = name
	if found {
		sel.raw = ":" + rest
		if v, err := strconv.ParseInt(rest, 10, 64); err == nil && v > 0 {
			sel.version = v
		} else if rest != "" && !strings.Contains(rest, ":") {
			sel.label = rest
		} else {
			return selector{}, errValidation("%s", msgNameRules)
		}
	}
	if err := validateLookupName(sel.name); err != nil {
		return selector{}, err
	}
	return sel, nil
}

// validLabel says whether a label may be attached to a version: 1–100 of
// letters, numbers, '.', '-', '_'; not starting with a number, "aws" or "ssm".
func validLabel(l string) bool {
	if l == "" || len(l) > 100 || !regexp.MustCompile(`^[a-zA-Z0-9_.\-]+$`).MatchString(l) {
		return false
	}
	if l[0] >= '0' && l[0] <= '9' {
		return false
	}
	low := strings.ToLower(l)
	return !strings.HasPrefix(low, "aws") && !strings.HasPrefix(low, "ssm")
}
