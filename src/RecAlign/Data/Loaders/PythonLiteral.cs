using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace RecAlign.Data.Loaders;

/// <summary>Parses one Python literal (dict/list/str/number/True/False/None), as written by <c>str(dict)</c> in the
/// UCSD Steam and Amazon-2014 dumps, into a <see cref="JsonNode"/>. Throws <see cref="FormatException"/> with the
/// column on bad input.</summary>
internal ref struct PythonLiteral
{
    private readonly ReadOnlySpan<char> _s;
    private int _i;

    private PythonLiteral(ReadOnlySpan<char> s) { _s = s; _i = 0; }

    public static JsonNode? Parse(ReadOnlySpan<char> s)
    {
        var p = new PythonLiteral(s);
        var v = p.Value();
        p.Ws();
        if (p._i != s.Length) throw p.Error("trailing characters");
        return v;
    }

    private FormatException Error(string what) => new($"{what} at column {_i + 1}");

    private void Ws() { while (_i < _s.Length && char.IsWhiteSpace(_s[_i])) _i++; }

    private JsonNode? Value()
    {
        Ws();
        if (_i >= _s.Length) throw Error("unexpected end of input");
        char c = _s[_i];
        switch (c)
        {
            case '{':
            {
                _i++;
                var o = new JsonObject();
                Ws();
                if (Peek('}')) { _i++; return o; }
                while (true)
                {
                    Ws();
                    var key = Value();
                    var keyText = key is JsonValue kv ? kv.ToString() : throw Error("dict key must be a scalar");
                    Ws();
                    Expect(':');
                    var val = Value();
                    o[keyText] = val; // a repeated key keeps the last value, as Python does
                    Ws();
                    if (Peek(',')) { _i++; Ws(); if (Peek('}')) { _i++; return o; } continue; }
                    Expect('}');
                    return o;
                }
            }
            case '[' or '(':
            {
                char close = c == '[' ? ']' : ')';
                _i++;
                var a = new JsonArray();
                Ws();
                if (Peek(close)) { _i++; return a; }
                while (true)
                {
                    a.Add(Value());
                    Ws();
                    if (Peek(',')) { _i++; Ws(); if (Peek(close)) { _i++; return a; } continue; }
                    Expect(close);
                    return a;
                }
            }
            case '\'' or '"':
                return JsonValue.Create(Str());
            default:
                if (Word("True")) return JsonValue.Create(true);
                if (Word("False")) return JsonValue.Create(false);
                if (Word("None")) return null;
                return Number();
        }
    }

    private bool Peek(char c) => _i < _s.Length && _s[_i] == c;

    private void Expect(char c)
    {
        if (!Peek(c)) throw Error(_i < _s.Length ? $"expected '{c}', found '{_s[_i]}'" : $"expected '{c}' before the end");
        _i++;
    }

    private bool Word(string w)
    {
        if (!_s[_i..].StartsWith(w, StringComparison.Ordinal)) return false;
        _i += w.Length;
        return true;
    }

    private JsonNode Number()
    {
        int start = _i;
        while (_i < _s.Length && (char.IsAsciiDigit(_s[_i]) || _s[_i] is '-' or '+' or '.' or 'e' or 'E')) _i++;
        var t = _s[start.._i];
        if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return JsonValue.Create(d);
        _i = start;
        throw Error($"unexpected '{(_i < _s.Length ? _s[_i] : ' ')}'");
    }

    private string Str()
    {
        char q = _s[_i++];
        var sb = new StringBuilder();
        while (true)
        {
            if (_i >= _s.Length) throw Error("unterminated string");
            char c = _s[_i++];
            if (c == q) return sb.ToString();
            if (c != '\\') { sb.Append(c); continue; }
            if (_i >= _s.Length) throw Error("unterminated escape");
            char e = _s[_i++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '0': sb.Append('\0'); break;
                case 'x': sb.Append((char)Hex(2)); break;
                case 'u': sb.Append((char)Hex(4)); break;
                case 'U': sb.Append(char.ConvertFromUtf32(Hex(8))); break;
                default: sb.Append(e); break; // \\ \' \" and unknown escapes keep the character
            }
        }
    }

    private int Hex(int n)
    {
        if (_i + n > _s.Length || !int.TryParse(_s.Slice(_i, n), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int v))
            throw Error("bad hex escape");
        _i += n;
        return v;
    }
}
