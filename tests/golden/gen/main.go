// Command gen writes the Go reference outputs that tests/golden/test_go_golden.py checks the
// engine's Go re-implementations against: encoding/json decoding errors and encoding escapes,
// strconv.FormatFloat of edge floats, and net/url parsing of URLs and request targets.
//
// Run it from the repository root with any Go toolchain (standard library only):
//
//	go run ./tests/golden/gen
//
// It overwrites tests/golden/*.json. The files record the Go version that wrote them; the test
// reads only the files, so neither CI nor the test needs Go.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// text is a Go string written so that any byte sequence survives JSON: valid UTF-8 as a string,
// anything else as base64.
type text struct {
	Text   *string `json:"text,omitempty"`
	Base64 *string `json:"base64,omitempty"`
}

func newText(s string) text {
	if utf8.ValidString(s) {
		return text{Text: &s}
	}
	b := base64.StdEncoding.EncodeToString([]byte(s))
	return text{Base64: &b}
}

// nesting describes a deeply nested document: Open repeated Depth times, Core, then Close
// repeated Depth times (kept short in the file).
type nesting struct {
	Open  string `json:"open"`
	Core  string `json:"core"`
	Close string `json:"close"`
	Depth int    `json:"depth"`
}

func (n nesting) document() string {
	return strings.Repeat(n.Open, n.Depth) + n.Core + strings.Repeat(n.Close, n.Depth)
}

var nestings = []nesting{
	{"[", "", "]", 10000}, {"[", "", "]", 10001}, {`{"a":`, "1", "}", 10000}, {`{"a":`, "1", "}", 10001},
	{"[", "1e400", "]", 10001}, {"[", "", "", 10001},
}

type unmarshalCase struct {
	Input   text     `json:"input"`
	Nesting *nesting `json:"nesting,omitempty"`
	Into    string   `json:"into"`
	Error   *string  `json:"error"`
	// Value is json.Marshal of the decoded value when there is no error.
	Value *string `json:"value"`
}

type marshalCase struct {
	Input  text   `json:"input"`
	Output string `json:"output"`
}

type floatCase struct {
	Bits string `json:"bits"`
	G    string `json:"g"`
	F    string `json:"f"`
	E    string `json:"e"`
	JSON string `json:"json"`
}

type userinfo struct {
	Username    text `json:"username"`
	Password    text `json:"password"`
	PasswordSet bool `json:"password_set"`
}

// queryValue is one key of URL.Query() with its values, in key order.
type queryValue struct {
	Key    text   `json:"key"`
	Values []text `json:"values"`
}

// urlCase holds the parts of a parsed URL; decoded parts are texts, as unescaping may leave
// bytes that are not UTF-8.
type urlCase struct {
	Input       text         `json:"input"`
	Func        string       `json:"func"`
	Error       *string      `json:"error"`
	Scheme      string       `json:"scheme,omitempty"`
	Opaque      string       `json:"opaque,omitempty"`
	User        *userinfo    `json:"user,omitempty"`
	Host        string       `json:"host,omitempty"`
	Path        text         `json:"path"`
	RawPath     string       `json:"raw_path,omitempty"`
	ForceQuery  bool         `json:"force_query,omitempty"`
	RawQuery    string       `json:"raw_query,omitempty"`
	Fragment    text         `json:"fragment"`
	String      string       `json:"string,omitempty"`
	Query       []queryValue `json:"query,omitempty"`
	EscapedPath string       `json:"escaped_path,omitempty"`
}

type file struct {
	Generator string      `json:"generator"`
	GoVersion string      `json:"go_version"`
	Cases     interface{} `json:"cases"`
}

func strp(s string) *string { return &s }

var unmarshalInputs = []string{
	"", " ", "\n", "{", "}", "[", "]", "{}", "[]", "null", "nul", "nulx", "tru", "truex", "fals",
	`{"a":}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1}}`, `{} {}`, `{}x`, `1 2`,
	`true false`, `{"a"`, `{"a":`, `{"a":1`, `{a:1}`, `{'a':1}`, `/* c */{}`, "\x00", "{}\x00",
	"\xef\xbb\xbf{}", "\xff", `{"` + "\xff" + `":1}`, `{"a":"` + "\xff\xfe" + `"}`,
	`{"a":"` + "\xe2\x82" + `"}`, `{"a":"` + "\xed\xa0\x80" + `"}`, `{"a":"` + "\xc0\xaf" + `"}`,
	`01`, `-`, `-a`, `1.`, `1.e5`, `1e`, `1e+`, `.5`, `+1`, `0x10`, `NaN`, `Infinity`, `-0`,
	`1e400`, `-1e400`, `1e309`, `1e-400`, `123456789012345678901234567890`, `9007199254740993`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12zz"`, `"\ud800"`, `"\ud800\u0041"`, `"\uD83D\uDE00"`,
	`"\uDE00\uD83D"`, "\"a\tb\"", "\"\x01\"", "\"\x7f\"", `"\u0000"`, `["\/"]`,
	`{"a":1,"a":2}`, `{"a":[1,{"b":null}],"c":{"d":true}}`, " \n\t{}\n ", `{"":""}`,
	`[1e400, "x"`, `{"n": 1e400, "bad": }`, `[1, 1e400, 1e500]`,
}

func unmarshalCases() []unmarshalCase {
	var out []unmarshalCase
	inputs := make([]string, 0, len(unmarshalInputs)+len(nestings))
	inputs = append(inputs, unmarshalInputs...)
	for _, n := range nestings {
		inputs = append(inputs, n.document())
	}
	for i, in := range inputs {
		for _, into := range []string{"interface", "map"} {
			c := unmarshalCase{Input: newText(in), Into: into}
			if i >= len(unmarshalInputs) {
				n := nestings[i-len(unmarshalInputs)]
				c.Input, c.Nesting = newText(""), &n
			}
			var err error
			var v interface{}
			if into == "map" {
				var m map[string]interface{}
				err = json.Unmarshal([]byte(in), &m)
				v = m
			} else {
				err = json.Unmarshal([]byte(in), &v)
			}
			if err != nil {
				c.Error = strp(err.Error())
			} else {
				b, merr := json.Marshal(v)
				if merr != nil {
					c.Error = strp("marshal: " + merr.Error())
				} else if c.Nesting == nil {
					c.Value = strp(string(b)) // a nested document's value is its own text
				}
			}
			out = append(out, c)
		}
	}
	return out
}

var marshalInputs = []string{
	"", "plain", "<b>&amp;</b>", "\u2028\u2029", "a\u2027b\u202ac", "\x00\x01\x1f\x7f", "\"\\/",
	"\b\f\n\r\t", "é😀漢", "\ufffd", "a\xffb", "\xc3", "\xe2\x82", "\xe2\x82\xac", "\xed\xa0\x80",
	"\xf4\x90\x80\x80", "\xc0\x80", "\x80\x80", "x\xf0\x9f\x98", "\U0010ffff", "\u00a0\u0085",
}

func marshalCases() []marshalCase {
	var out []marshalCase
	for _, in := range marshalInputs {
		b, err := json.Marshal(in)
		if err != nil {
			panic(err)
		}
		out = append(out, marshalCase{Input: newText(in), Output: string(b)})
	}
	return out
}

var floatInputs = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 100, 1e6, 1e-4, 1e-5,
	123456, 1234567, 123456.789, 0.000001234, 1e-6, 1e-7, 1e20, 1e21, 1e22, -1e21, 1.5e300,
	1e100, 5e-324, 1e-323, math.SmallestNonzeroFloat64, 2.2250738585072014e-308,
	math.MaxFloat64, -math.MaxFloat64, 1 << 53, 1<<53 - 1, 1<<53 + 2, -(1 << 53), 1 << 63,
	1 << 64, 12345678901234567890, 4.35, 0.1 + 0.2, 9.999999999999999e22, 1e23, 8.41e21,
	math.Inf(1), math.Inf(-1), math.NaN(), 3.0e-5, 299792458, 6.02214076e23,
}

func floatCases() []floatCase {
	var out []floatCase
	for _, v := range floatInputs {
		c := floatCase{
			Bits: fmt.Sprintf("%016x", math.Float64bits(v)),
			G:    strconv.FormatFloat(v, 'g', -1, 64),
			F:    strconv.FormatFloat(v, 'f', -1, 64),
			E:    strconv.FormatFloat(v, 'e', -1, 64),
		}
		if b, err := json.Marshal(v); err != nil {
			c.JSON = "error: " + err.Error()
		} else {
			c.JSON = string(b)
		}
		out = append(out, c)
	}
	return out
}

var parseInputs = []string{
	"http://example.com/path?x=1&y=2#frag", "https://user:pa%20ss@host:8080/a%2Fb?q=1#f%20g",
	"HTTP://EXAMPLE.com/", "http://h/p?q=%zz&ok=1", "%zz", "http://h/%zz", "http://h/%e2%82",
	"http://h/?a=%ff", "mailto:user@example.com", "urn:isbn:0451450523", "javascript:alert(1)",
	"http://[::1]:8080/x", "http://[fe80::1%25en0]/", "http://[::1", "http://[::1]:80a/",
	"http://h:port/", "http://h:/", "http://h:8080", "http://%41/", "http://h%zz/",
	"http://user@/", "http://a@b@c/", "http://us%zzer@h/", "http://us er@h/", "http://u:p:q@h/",
	"/hooks?x=1", "/hooks?x=1;y=2", "/?a=1&a=2&b&=c&d=", "/?a+b=c+d&e=%20", "/a b", "/ä",
	"//host/path", "///path", "*", "", "?a=b", "#frag", "http://h/a#b#c", ":foo", "a:b/c",
	"1http://x", "./a:b", "a/b:c", "/p%41th", "/a%2fb", "http://h/\x7f", "http://h/\x01",
	"http://h/path?", "http://h/path?#", "http://h/path#", "http://h/#%zz", "http://h/#a%2Fb",
	"file:///etc/passwd", "http://h/a/../b", "http://h?x", "http://h#f", "HtTp://h/",
	"http:opaque?x=1#f", "http:/p", "git+ssh://git@github.com:org/repo.git",
	"http://h/p%2F%2f?q=%2F", "/%41%42?%41=%42", "http://[::1]/?q", "http://h/\u00e9?\u00e9=\u00e9",
	"http://h h/", "http://h{x}/", "http://h%20x/", "http://%e2%82%ac/", "http://h\u00e9/", "http://h<x>/",
	"http://[fe80::1%25en0%20x]/", "http://[fe80::1%en0]/", "http://[fe80::1%25%41]/", "http://h/?a=1&b=%zz&c=3",
}

var requestInputs = []string{
	"/hooks?x=1", "/a#b", "*", "hooks", "http://h/p?q", "//host/p", "/ä", "/p%41th", "/a%2fb",
	"/%zz", "/a b", "/?q=%zz", "/?a;b", "", "/", "/hooks/github?token=a%2Bb+c", "/a%20b",
	"/a+b", "/~user/!$&'()*+,;=:@", "/a?b?c", "/%E2%82%AC", "/€", "/a%2Fb%2fc",
	"https://listener.example/hooks?x=1", "http://h", "/x?\u00e9", "/a|b", "/a\"b", "/{x}", "/a^b`c",
	"/hooks?", "/%7e%2A", "/a%20b%2Bc", "/\u00e9%C3%A9", "//", "/./a/../b", "/%25", "/a:b",
}

func describeURL(in, fn string, u *url.URL, err error) urlCase {
	c := urlCase{Input: newText(in), Func: fn}
	if err != nil {
		c.Error = strp(err.Error())
		return c
	}
	c.Scheme, c.Opaque, c.Host, c.RawPath = u.Scheme, u.Opaque, u.Host, u.RawPath
	c.Path, c.Fragment = newText(u.Path), newText(u.Fragment)
	c.ForceQuery, c.RawQuery, c.String = u.ForceQuery, u.RawQuery, u.String()
	c.EscapedPath = u.EscapedPath()
	if u.User != nil {
		p, set := u.User.Password()
		c.User = &userinfo{Username: newText(u.User.Username()), Password: newText(p), PasswordSet: set}
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := queryValue{Key: newText(k)}
		for _, value := range q[k] {
			v.Values = append(v.Values, newText(value))
		}
		c.Query = append(c.Query, v)
	}
	return c
}

func urlCases() []urlCase {
	var out []urlCase
	for _, in := range parseInputs {
		u, err := url.Parse(in)
		out = append(out, describeURL(in, "Parse", u, err))
	}
	for _, in := range requestInputs {
		u, err := url.ParseRequestURI(in)
		out = append(out, describeURL(in, "ParseRequestURI", u, err))
	}
	return out
}

func write(dir, name string, cases interface{}) {
	f := file{Generator: "tests/golden/gen/main.go", GoVersion: runtime.Version(), Cases: cases}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		panic(err)
	}
}

func main() {
	dir := filepath.Join("tests", "golden")
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintln(os.Stderr, "run from the repository root: go run ./tests/golden/gen")
		os.Exit(1)
	}
	write(dir, "go_json_unmarshal.json", unmarshalCases())
	write(dir, "go_json_marshal.json", marshalCases())
	write(dir, "go_strconv_float.json", floatCases())
	write(dir, "go_net_url.json", urlCases())
	names := []string{"go_json_unmarshal.json", "go_json_marshal.json", "go_strconv_float.json", "go_net_url.json"}
	sort.Strings(names)
	fmt.Println("wrote", strings.Join(names, ", "), "with", runtime.Version())
}
