"""Go standard-library behaviour that Tekton's output and messages depend on.

Tekton is written in Go, so the text it produces comes from Go's standard library: JSON written by
``encoding/json`` and the errors its decoder raises, ``%q``/``%v`` formatting, float printing and
``encoding/hex`` errors. The engine reproduces that text byte for byte from these modules:

* :mod:`kfp_triggers.golang.json`: ``json.Marshal`` and ``json.Unmarshal`` (with Go's messages);
* :mod:`kfp_triggers.golang.fmt`: ``strconv`` quoting and float formatting, ``%v``, hex decoding
  and holding Go strings that are not UTF-8;
* :mod:`kfp_triggers.golang.url`: ``net/url`` parsing and ``URL.String()`` (CEL's ``parseURL``,
  the request URL Tekton hands on).

``tests/golden`` checks them against outputs written by Go itself.
"""
