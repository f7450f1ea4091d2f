package domain

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

// servicesFile is the YAML document: the same shape as the API's
// {"services": [...]} body, so a file exported from one vault can be sent
// to another unchanged.
type servicesFile struct {
	Services []Service `yaml:"services"`
}

// MarshalServicesYAML writes a vault's services as a YAML document.
func MarshalServicesYAML(list []Service) ([]byte, error) {
	if list == nil {
		list = []Service{}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(servicesFile{Services: list}); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// MaxServicesYAMLBytes bounds a services file.
const MaxServicesYAMLBytes = 1 << 20

// ParseServicesYAML reads a services document strictly (unknown fields are
// errors, one document only) and validates every service. Errors carry
// code invalid_service.
func ParseServicesYAML(data []byte) ([]Service, error) {
	if len(data) > MaxServicesYAMLBytes {
		return nil, Errorf(CodeInvalidService, "services file is %d bytes; the limit is %d", len(data), MaxServicesYAMLBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f servicesFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errorf(CodeInvalidService, "services file is empty")
		}
		return nil, Errorf(CodeInvalidService, "services file: %s", err.Error())
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Errorf(CodeInvalidService, "services file must hold exactly one YAML document")
	}
	if err := ValidateServices(f.Services); err != nil {
		return nil, err
	}
	if f.Services == nil {
		f.Services = []Service{}
	}
	return f.Services, nil
}
