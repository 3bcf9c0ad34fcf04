package config

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Every configuration key can be set three ways, and the later wins: the
// YAML file, then the environment (AISLE_<SECTION>_<KEY>, see EnvName),
// then command-line flags, each bound to one key and counted only when
// given on the command line (so a flag's zero value overrides the file).

// EnvPrefix starts the name of every configuration variable.
const EnvPrefix = "AISLE_"

// Keys lists every configuration key as a dotted path of its YAML names
// ("server.addr", "search.fusion.alpha"), in declaration order.
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, prefix+name+".")
				continue
			}
			out = append(out, prefix+name)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// EnvName is the environment variable of a key: "server.admin_key" is
// AISLE_SERVER_ADMIN_KEY, "search.fusion.alpha" AISLE_SEARCH_FUSION_ALPHA.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// legacyEnv are variable names documented before every key had one; the
// key's own name wins when both are set.
var legacyEnv = map[string]string{"server.admin_key": "AISLE_ADMIN_KEY", "server.read_key": "AISLE_READ_KEY", "search.embedder_key": "AISLE_EMBEDDER_KEY"}

// ApplyEnv sets every key whose variable lookup finds (os.LookupEnv in
// production). A value is read as Set reads it; a bad one is an error
// naming the variable.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	for _, key := range Keys() {
		name := EnvName(key)
		v, ok := lookup(name)
		if !ok {
			if old, has := legacyEnv[key]; has {
				name = old
				v, ok = lookup(old)
			}
		}
		if !ok {
			continue
		}
		if err := c.Set(key, v); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
	}
	return nil
}

// Set sets one key from its text form: strings as they are, numbers,
// booleans and durations ("10s", "168h") as in Go, lists as YAML flow
// sequences ("[a, b]") or comma-separated words or numbers, maps and nested lists as
// YAML ("{title: 4}", "[[sneaker, trainer]]"); "null" clears an optional
// value.
func (c *Config) Set(key, value string) error {
	v := reflect.ValueOf(c).Elem()
	for _, part := range strings.Split(key, ".") {
		if v.Kind() != reflect.Struct {
			return fmt.Errorf("unknown config key %q", key)
		}
		f, ok := fieldByYAML(v, part)
		if !ok {
			return fmt.Errorf("unknown config key %q (see docs/aisle.example.yaml)", key)
		}
		v = f
	}
	if v.Kind() == reflect.Struct && v.Type() != reflect.TypeFor[time.Duration]() {
		return fmt.Errorf("config key %q is a section: set its keys", key)
	}
	if err := setValue(v, value); err != nil {
		return fmt.Errorf("%s=%q: %w", key, value, err)
	}
	return nil
}

func setValue(v reflect.Value, s string) error {
	switch {
	case v.Kind() == reflect.Pointer:
		if s == "null" || s == "" {
			v.SetZero()
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := setValue(p.Elem(), s); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case v.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 10s, 5m or 168h")
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		v.SetFloat(f)
	case reflect.Slice:
		t := strings.TrimSpace(s)
		switch v.Type().Elem().Kind() {
		case reflect.Int, reflect.Int64, reflect.Float64:
			if !strings.HasPrefix(t, "[") {
				t = "[" + t + "]" // "1, 5" is the list [1, 5]
			}
			s = t
		}
		if v.Type().Elem().Kind() == reflect.String && !strings.HasPrefix(t, "[") {
			var list []string
			for _, w := range strings.Split(t, ",") {
				if w = strings.TrimSpace(w); w != "" {
					list = append(list, w)
				}
			}
			v.Set(reflect.ValueOf(list))
			return nil
		}
		fallthrough
	default: // lists of lists or of records, maps: YAML
		p := reflect.New(v.Type())
		dec := yaml.NewDecoder(strings.NewReader(s))
		dec.KnownFields(true)
		if err := dec.Decode(p.Interface()); err != nil {
			return fmt.Errorf("want YAML such as [a, b] or {k: 1}: %w", err)
		}
		v.Set(p.Elem())
	}
	return nil
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func fieldByYAML(v reflect.Value, name string) (reflect.Value, bool) {
	if name == "" { // fields that are not settings (yaml:"-") have no name
		return reflect.Value{}, false
	}
	fields := reflect.VisibleFields(v.Type())
	i := slices.IndexFunc(fields, func(f reflect.StructField) bool { return yamlName(f) == name })
	if i < 0 {
		return reflect.Value{}, false
	}
	return v.FieldByIndex(fields[i].Index), true
}

// Override sets one key from a command-line flag (or any other source
// named From, for messages).
type Override struct {
	Key, Value, From string
}

// Resolve is the configuration of a command: the defaults, the file at
// path (optional), the environment through lookup, then overrides, each
// over the one before; the result is validated.
func Resolve(path string, lookup func(string) (string, bool), overrides []Override) (Config, error) {
	c, err := Load(path)
	if err != nil {
		return c, err
	}
	if lookup != nil {
		if err := c.ApplyEnv(lookup); err != nil {
			return c, err
		}
	}
	for _, o := range overrides {
		if err := c.Set(o.Key, o.Value); err != nil {
			return c, fmt.Errorf("%s: %w", o.From, err)
		}
	}
	if err := c.Server.readKeyFiles(); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// readKeyFiles sets AdminKey and ReadKey from their files, when named.
func (s *Server) readKeyFiles() error {
	for _, k := range []struct {
		name, file string
		key        *string
	}{{"admin", s.AdminKeyFile, &s.AdminKey}, {"read", s.ReadKeyFile, &s.ReadKey}} {
		if k.file == "" {
			continue
		}
		if *k.key != "" {
			return fmt.Errorf("server.%s_key and server.%s_key_file are both set: give the key one way (the file keeps it out of the process list)", k.name, k.name)
		}
		b, err := os.ReadFile(k.file)
		if err != nil {
			return fmt.Errorf("server.%s_key_file: %w", k.name, err)
		}
		key := strings.TrimRight(string(b), "\r\n")
		if strings.TrimSpace(key) == "" || strings.ContainsAny(key, "\r\n") {
			return fmt.Errorf("server.%s_key_file %s: want the key alone on one line", k.name, k.file)
		}
		*k.key = key
	}
	return nil
}
