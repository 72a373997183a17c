package ssmemu

import (
	"slices"
	"strings"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

// metadataOut is the ParameterMetadata shape of DescribeParameters.
type metadataOut struct {
	Name             string   `json:"Name"`
	ARN              string   `json:"ARN"`
	Type             string   `json:"Type"`
	KeyID            string   `json:"KeyId,omitempty"`
	LastModifiedDate epoch    `json:"LastModifiedDate"`
	LastModifiedUser string   `json:"LastModifiedUser"`
	Description      string   `json:"Description,omitempty"`
	AllowedPattern   string   `json:"AllowedPattern,omitempty"`
	Version          int64    `json:"Version"`
	Tier             string   `json:"Tier"`
	Policies         []string `json:"Policies"`
	DataType         string   `json:"DataType"`
}

type describeInput struct {
	Filters []struct {
		Key    string   `json:"Key"`
		Values []string `json:"Values"`
	} `json:"Filters"`
	ParameterFilters []filter `json:"ParameterFilters"`
	MaxResults       *int     `json:"MaxResults"`
	NextToken        string   `json:"NextToken"`
}

func (s *Service) describeParameters(r *awsapi.Request, body []byte) (any, []string, error) {
	var in describeInput
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	if len(in.Filters) > 0 && len(in.ParameterFilters) > 0 {
		return nil, nil, errValidation("You can use either Filters or ParameterFilters in a single request.")
	}
	filters := in.ParameterFilters
	for _, f := range in.Filters {
		switch f.Key {
		case "Name", "Type", "KeyId":
		default:
			return nil, nil, awsapi.Errorf("InvalidFilterKey", "The following filter key is not valid: %s. Valid filter keys include: [Name, Type, KeyId].", f.Key)
		}
		filters = append(filters, filter{Key: f.Key, Option: "Equals", Values: f.Values})
	}
	max, err := maxResults(in.MaxResults, 10, 50)
	if err != nil {
		return nil, nil, err
	}
	// ssm:DescribeParameters has no resource-level permissions in IAM.
	if err := s.authorize(r, "DescribeParameters", "*"); err != nil {
		return nil, nil, err
	}
	recs, err := s.all(r.Region)
	if err != nil {
		return nil, nil, err
	}
	var match []*record
	for _, rec := range recs {
		ok, err := matchFilters(rec, filters)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			match = append(match, rec)
		}
	}
	page, next, err := paginate(match, in.NextToken, max)
	if err != nil {
		return nil, nil, err
	}
	out := []metadataOut{}
	for _, rec := range page {
		v := rec.latest()
		m := metadataOut{
			Name: rec.Name, ARN: parameterARN(r, rec.Name), Type: v.Type,
			LastModifiedDate: epoch(v.LastModified), LastModifiedUser: v.LastModifiedUser,
			Description: v.Description, AllowedPattern: v.AllowedPattern, Version: v.Version,
			Tier: v.Tier, Policies: []string{}, DataType: v.DataType,
		}
		if v.Type == typeSecureString {
			m.KeyID = v.KeyID
		}
		out = append(out, m)
	}
	resp := map[string]any{"Parameters": out}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, nil, nil
}

// matchFilters applies ParameterStringFilters to a parameter's latest version.
func matchFilters(rec *record, filters []filter) (bool, error) {
	v := rec.latest()
	c := canonical(rec.Name)
	for _, f := range filters {
		opt := f.Option
		var ok bool
		switch {
		case f.Key == "Name":
			if opt == "" {
				opt = "Equals"
			}
			if opt != "Equals" && opt != "BeginsWith" {
				return false, awsapi.Errorf("InvalidFilterOption", "The following filter option is not valid: %s. Valid options include: [BeginsWith, Equals].", opt)
			}
			for _, val := range f.Values {
				if opt == "Equals" && canonical(val) == c || opt == "BeginsWith" && strings.HasPrefix(c, canonical(val)) {
					ok = true
				}
			}
		case f.Key == "Path":
			if opt == "" {
				opt = "OneLevel"
			}
			if opt != "Recursive" && opt != "OneLevel" {
				return false, awsapi.Errorf("InvalidFilterOption", "The following filter option is not valid: %s. Valid options include: [Recursive, OneLevel].", opt)
			}
			for _, val := range f.Values {
				p := strings.TrimSuffix(val, "/") + "/"
				if strings.HasPrefix(c, p) && (opt == "Recursive" || !strings.Contains(c[len(p):], "/")) {
					ok = true
				}
			}
		case f.Key == "Type", f.Key == "KeyId", f.Key == "Tier", f.Key == "DataType":
			if opt != "" && opt != "Equals" {
				return false, awsapi.Errorf("InvalidFilterOption", "The following filter option is not valid: %s. Valid options include: [Equals].", opt)
			}
			field := map[string]string{"Type": v.Type, "KeyId": v.KeyID, "Tier": v.Tier, "DataType": v.DataType}[f.Key]
			ok = slices.Contains(f.Values, field)
		case f.Key == "Label":
			for _, ver := range rec.Versions {
				for _, l := range ver.Labels {
					ok = ok || slices.Contains(f.Values, l)
				}
			}
		case strings.HasPrefix(f.Key, "tag:"):
			tv, has := rec.Tags[strings.TrimPrefix(f.Key, "tag:")]
			ok = has && (len(f.Values) == 0 || slices.Contains(f.Values, tv))
		default:
			return false, awsapi.Errorf("InvalidFilterKey", "The following filter key is not valid: %s. Valid filter keys include: [Name, Path, Type, KeyId, Label, Tier, DataType, tag].", f.Key)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

type historyOut struct {
	Name             string   `json:"Name"`
	Type             string   `json:"Type"`
	KeyID            string   `json:"KeyId,omitempty"`
	LastModifiedDate epoch    `json:"LastModifiedDate"`
	LastModifiedUser string   `json:"LastModifiedUser"`
	Description      string   `json:"Description,omitempty"`
	Value            string   `json:"Value"`
	AllowedPattern   string   `json:"AllowedPattern,omitempty"`
	Version          int64    `json:"Version"`
	Labels           []string `json:"Labels"`
	Tier             string   `json:"Tier"`
	Policies         []string `json:"Policies"`
	DataType         string   `json:"DataType"`
}

func (s *Service) getParameterHistory(r *awsapi.Request, body []byte) (any, []string, error) {
	var in struct {
		Name           string `json:"Name"`
		WithDecryption bool   `json:"WithDecryption"`
		MaxResults     *int   `json:"MaxResults"`
		NextToken      string `json:"NextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	sel, err := parseSelector(r, in.Name)
	if err != nil {
		return nil, nil, err
	}
	arn := parameterARN(r, sel.name)
	res := []string{arn}
	max, err := maxResults(in.MaxResults, 50, 50)
	if err != nil {
		return nil, res, err
	}
	if err := s.authorize(r, "GetParameterHistory", arn); err != nil {
		return nil, res, err
	}
	rec, err := s.view(r.Region, canonical(sel.name))
	if err != nil {
		return nil, res, err
	}
	if rec == nil {
		return nil, res, errParameterNotFound()
	}
	page, next, err := paginate(rec.Versions, in.NextToken, max)
	if err != nil {
		return nil, res, err
	}
	out := []historyOut{}
	for i := range page {
		v := &page[i]
		val, err := s.shownValue(r, arn, v, in.WithDecryption)
		if err != nil {
			return nil, res, err
		}
		h := historyOut{
			Name: rec.Name, Type: v.Type, LastModifiedDate: epoch(v.LastModified), LastModifiedUser: v.LastModifiedUser,
			Description: v.Description, Value: val, AllowedPattern: v.AllowedPattern, Version: v.Version,
			Labels: append([]string{}, v.Labels...), Tier: v.Tier, Policies: []string{}, DataType: v.DataType,
		}
		if v.Type == typeSecureString {
			h.KeyID = v.KeyID
		}
		out = append(out, h)
	}
	resp := map[string]any{"Parameters": out}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, res, nil
}

// maxLabelsPerVersion is how many labels one version may carry.
const maxLabelsPerVersion = 10

func (s *Service) labelParameterVersion(r *awsapi.Request, body []byte) (any, []string, error) {
	var in struct {
		Name             string   `json:"Name"`
		ParameterVersion *int64   `json:"ParameterVersion"`
		Labels           []string `json:"Labels"`
	}
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	sel, err := parseSelector(r, in.Name)
	if err != nil {
		return nil, nil, err
	}
	arn := parameterARN(r, sel.name)
	res := []string{arn}
	if len(in.Labels) == 0 || len(in.Labels) > maxLabelsPerVersion {
		return nil, res, errValidation("1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length less than or equal to 10, Member must have length greater than or equal to 1")
	}
	if err := s.authorize(r, "LabelParameterVersion", arn); err != nil {
		return nil, res, err
	}
	invalid := []string{}
	var labelled int64
	err = s.db.Update(func(tx persist.Tx) error {
		invalid = invalid[:0]
		rec, err := loadRecord(tx, r.Region, canonical(sel.name))
		if err != nil {
			return err
		}
		if rec == nil {
			return errParameterNotFound()
		}
		target := rec.latest()
		if in.ParameterVersion != nil {
			if target, err = rec.find(selector{name: rec.Name, version: *in.ParameterVersion}); err != nil {
				return err
			}
		}
		labelled = target.Version
		var add []string
		for _, l := range in.Labels {
			if !validLabel(l) {
				invalid = append(invalid, l)
			} else if !slices.Contains(target.Labels, l) && !slices.Contains(add, l) {
				add = append(add, l)
			}
		}
		if len(target.Labels)+len(add) > maxLabelsPerVersion {
			return awsapi.Errorf("ParameterVersionLabelLimitExceeded", "A parameter version can have maximum 10 labels. Move one or more labels to another version and try again.")
		}
		// A label names one version: attaching it here moves it from any other.
		for i := range rec.Versions {
			if rec.Versions[i].Version != target.Version {
				rec.Versions[i].Labels = slices.DeleteFunc(rec.Versions[i].Labels, func(l string) bool { return slices.Contains(add, l) })
			}
		}
		target.Labels = append(target.Labels, add...)
		return saveRecord(tx, r.Region, canonical(sel.name), rec)
	})
	if err != nil {
		return nil, res, err
	}
	return map[string]any{"InvalidLabels": invalid, "ParameterVersion": labelled}, res, nil
}
