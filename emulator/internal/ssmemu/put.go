package ssmemu

import (
	"encoding/json"
	"regexp"
	"unicode/utf8"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

const (
	typeString       = "String"
	typeStringList   = "StringList"
	typeSecureString = "SecureString"

	tierStandard    = "Standard"
	tierAdvanced    = "Advanced"
	tierIntelligent = "Intelligent-Tiering"

	// Value limits, counted in characters (AWS's own error text says
	// "characters"; see docs/aws-behaviour.md).
	maxStandardValue = 4096
	maxAdvancedValue = 8192

	msgStandardTooLong = "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
	msgAdvancedTooLong = "Advanced tier parameters support a maximum parameter value of 8192 characters."
	msgNoDowngrade     = "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter."
	msgAlreadyExists   = "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true."
)

// keyIDPattern is ParameterKeyId's pattern in the API model.
var keyIDPattern = regexp.MustCompile(`^([a-zA-Z0-9:/_-]+)$`)

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type putInput struct {
	Name           string  `json:"Name"`
	Description    *string `json:"Description"`
	Value          *string `json:"Value"`
	Type           string  `json:"Type"`
	KeyID          *string `json:"KeyId"`
	Overwrite      bool    `json:"Overwrite"`
	AllowedPattern *string `json:"AllowedPattern"`
	Tags           []tag   `json:"Tags"`
	Tier           string  `json:"Tier"`
	Policies       string  `json:"Policies"`
	DataType       *string `json:"DataType"`
}

func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return awsapi.Errorf("SerializationException", "Unable to parse the request body as JSON: %v", err)
	}
	return nil
}

// putParameter creates a parameter or, with Overwrite, a new version of it.
//
// Changing the type on overwrite (String <-> SecureString) is allowed and
// makes a new version of the new type: see docs/aws-behaviour.md, "Changing
// a parameter's type", for the evidence. HierarchyTypeMismatchException is in
// the API model but no public report shows AWS sending it for an overwrite.
func (s *Service) putParameter(r *awsapi.Request, body []byte) (any, []string, error) {
	var in putInput
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	if err := validateName(r, in.Name); err != nil {
		return nil, nil, err
	}
	arn := parameterARN(r, in.Name)
	res := []string{arn}
	if in.Value == nil {
		return nil, res, errValidation("1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null")
	}
	if *in.Value == "" {
		return nil, res, errValidation("1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1.")
	}
	switch in.Type {
	case "", typeString, typeStringList, typeSecureString:
	default:
		return nil, res, errValidation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	switch in.Tier {
	case "", tierStandard, tierAdvanced, tierIntelligent:
	default:
		return nil, res, errValidation("1 validation error detected: Value '%s' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]", in.Tier)
	}
	if in.DataType != nil {
		switch *in.DataType {
		case "text", "aws:ec2:image", "aws:ssm:integration":
		default:
			return nil, res, errValidation("The following data type is not supported: %s (Data type names are all lowercase.)", *in.DataType)
		}
	}
	if in.Description != nil && utf8.RuneCountInString(*in.Description) > 1024 {
		return nil, res, errValidation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	if in.KeyID != nil && (len(*in.KeyID) > 256 || !keyIDPattern.MatchString(*in.KeyID)) {
		return nil, res, errValidation("1 validation error detected: Value '%s' at 'keyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$", *in.KeyID)
	}
	if in.Overwrite && len(in.Tags) > 0 {
		return nil, res, errValidation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	}
	if in.Policies != "" {
		return nil, res, awsapi.Errorf("InvalidPolicyTypeException", "Parameter policies are not supported by this endpoint.")
	}
	if err := s.authorize(r, "PutParameter", arn); err != nil {
		return nil, res, err
	}
	canon := canonical(in.Name)
	done, err := s.beginPut(r.Region, canon)
	if err != nil {
		return nil, res, err
	}
	defer done()

	prev, err := s.view(r.Region, canon)
	if err != nil {
		return nil, res, err
	}
	var last *version
	if prev != nil {
		if !in.Overwrite {
			return nil, res, awsapi.Errorf("ParameterAlreadyExists", "%s", msgAlreadyExists)
		}
		last = prev.latest()
	}
	nv := version{Type: in.Type, DataType: "text", LastModified: r.Time, LastModifiedUser: r.Principal.ARN}
	if last != nil {
		if nv.Type == "" {
			nv.Type = last.Type
		}
		nv.Description, nv.AllowedPattern, nv.DataType = last.Description, last.AllowedPattern, last.DataType
	}
	if nv.Type == "" {
		return nil, res, errValidation("A parameter type is required when you create a parameter.")
	}
	if in.Description != nil {
		nv.Description = *in.Description
	}
	if in.AllowedPattern != nil {
		nv.AllowedPattern = *in.AllowedPattern
	}
	if in.DataType != nil {
		nv.DataType = *in.DataType
	}
	if in.KeyID != nil && nv.Type != typeSecureString {
		return nil, res, errValidation("KeyId is required for SecureString type parameter only.")
	}
	value := *in.Value
	if nv.AllowedPattern != "" {
		re, err := regexp.Compile(nv.AllowedPattern)
		if err != nil {
			return nil, res, awsapi.Errorf("InvalidAllowedPatternException", "The allowed pattern %s is not a valid regular expression.", nv.AllowedPattern)
		}
		if !re.MatchString(value) {
			return nil, res, awsapi.Errorf("ParameterPatternMismatchException", "Parameter value, cannot be validated against allowedPattern: %s", nv.AllowedPattern)
		}
	}
	if nv.Tier, err = chooseTier(in.Tier, last, value); err != nil {
		return nil, res, err
	}

	if nv.Type == typeSecureString {
		keyRef := ""
		nv.KeyID = defaultKeyID
		if in.KeyID != nil {
			keyRef, nv.KeyID = *in.KeyID, *in.KeyID
		}
		if nv.Cipher, nv.KeyARN, err = s.encrypt(r, arn, nv.Tier, keyRef, value); err != nil {
			return nil, res, err
		}
	} else {
		nv.Value = value
	}

	err = s.db.Update(func(tx persist.Tx) error {
		rec, err := loadRecord(tx, r.Region, canon)
		if err != nil {
			return err
		}
		if rec == nil {
			rec = &record{Name: in.Name}
			if len(in.Tags) > 0 {
				rec.Tags = map[string]string{}
				for _, t := range in.Tags {
					rec.Tags[t.Key] = t.Value
				}
			}
			nv.Version = 1
		} else {
			if !in.Overwrite {
				return awsapi.Errorf("ParameterAlreadyExists", "%s", msgAlreadyExists)
			}
			nv.Version = rec.latest().Version + 1
			if len(rec.Versions) >= maxVersions {
				oldest := rec.Versions[0]
				if len(oldest.Labels) > 0 {
					return awsapi.Errorf("ParameterMaxVersionLimitExceeded",
						"You attempted to create a new version of %s by calling the PutParameter API with the overwrite flag. Version %d, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.",
						rec.Name, oldest.Version)
				}
				rec.Versions = append(rec.Versions[:0:0], rec.Versions[1:]...)
			}
		}
		rec.Versions = append(rec.Versions, nv)
		return saveRecord(tx, r.Region, canon, rec)
	})
	if err != nil {
		return nil, res, err
	}
	return map[string]any{"Version": nv.Version, "Tier": nv.Tier}, res, nil
}

// chooseTier applies the tier rules: the requested tier (or, when none is
// requested, the parameter's current one, else Standard); Intelligent-Tiering
// picks Advanced only when the value needs it or the parameter already is
// Advanced; an Advanced parameter never goes back to Standard.
func chooseTier(requested string, last *version, value string) (string, error) {
	n := utf8.RuneCountInString(value)
	wasAdvanced := last != nil && last.Tier == tierAdvanced
	tier := requested
	switch requested {
	case "":
		tier = tierStandard
		if wasAdvanced {
			tier = tierAdvanced
		}
	case tierIntelligent:
		tier = tierStandard
		if wasAdvanced || n > maxStandardValue {
			tier = tierAdvanced
		}
	case tierStandard:
		if wasAdvanced {
			return "", errValidation("%s", msgNoDowngrade)
		}
	}
	if tier == tierStandard && n > maxStandardValue {
		return "", errValidation("%s", msgStandardTooLong)
	}
	if n > maxAdvancedValue {
		return "", errValidation("%s", msgAdvancedTooLong)
	}
	return tier, nil
}
