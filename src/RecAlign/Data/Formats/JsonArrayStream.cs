using System.Text.Json;
using RecAlign.IO;

namespace RecAlign.Data.Formats;

/// <summary>Streams the elements of a top-level JSON array, each with the 1-based line it starts on, without
/// holding the file in memory. Malformed JSON is a <see cref="DataFormatException"/> naming the file, the line and
/// the element (<c>[3]</c>) being read; a file that is not an array names the line too.</summary>
public static class JsonArrayStream
{
    public static IEnumerable<(JsonElement Element, long Line)> Elements(Stream stream, string file)
    {
        var reader = new ChunkReader(stream, file);
        var batch = new List<(JsonElement, long)>();
        bool more;
        do
        {
            more = reader.Next(batch);
            foreach (var item in batch) yield return item;
            batch.Clear();
        } while (more);
    }

    /// <summary>Reads the stream in chunks (growing the buffer when one element does not fit) and parses the complete
    /// elements of each chunk; the reader state carries over, so JSON line numbers stay file-wide.</summary>
    private sealed class ChunkReader(Stream stream, string file)
    {
        private byte[] _buffer = new byte[1 << 16];
        private int _length;
        private bool _final, _started, _done, _first = true;
        private JsonReaderState _state;
        private long _line = 1; // the line at buffer offset _counted
        private int _counted;
        private int _index;

        /// <summary>Adds the next complete elements to <paramref name="batch"/>; false once the array has ended.</summary>
        public bool Next(List<(JsonElement, long)> batch)
        {
            if (_done) return false;
            Fill();
            var reader = new Utf8JsonReader(_buffer.AsSpan(0, _length), _final, _state);
            try
            {
                while (true)
                {
                    var checkpoint = reader;
                    if (!reader.Read()) break;
                    long line = LineAt((int)reader.TokenStartIndex);
                    if (!_started)
                    {
                        if (reader.TokenType != JsonTokenType.StartArray)
                            throw new DataFormatException(file, line, null, $"expected a JSON array, got {Describe(reader.TokenType)}");
                        _started = true;
                        continue;
                    }
                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        _done = true;
                        RejectTrailingContent((int)reader.BytesConsumed);
                        break;
                    }
                    var start = reader;
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
                    {
                        reader = checkpoint; // incomplete: read it again with more data
                        break;
                    }
                    batch.Add((JsonElement.ParseValue(ref start), line));
                    _index++;
                }
            }
            catch (JsonException e)
            {
                throw new DataFormatException(file, (e.LineNumber ?? -1) + 1, _started ? $"[{_index}]" : null,
                    $"malformed JSON: {JsonErrors.Reason(e)}", e);
            }
            if (_done) return false;
            if (_final)
                throw new DataFormatException(file, LineAt(_length), _started ? $"[{_index}]" : null,
                    _started ? "malformed JSON: unexpected end of file (the array is not closed)" : "empty file: expected a JSON array");
            int consumed = (int)reader.BytesConsumed;
            if (_counted <= consumed) { LineAt(consumed); _counted = 0; }
            else _counted -= consumed;
            _state = reader.CurrentState;
            Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _length - consumed);
            _length -= consumed;
            return true;
        }

        /// <summary>Only whitespace may follow the array (two concatenated arrays or stray text are an error, not a
        /// silently half-read file).</summary>
        private void RejectTrailingContent(int offset)
        {
            while (true)
            {
                for (int i = offset; i < _length; i++)
                    if (_buffer[i] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
                        throw new DataFormatException(file, LineAt(i), null, "unexpected content after the JSON array");
                if (_final) return;
                LineAt(_length);
                _counted = 0;
                _length = 0;
                offset = 0;
                Fill();
            }
        }

        private void Fill()
        {
            if (_length == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
            while (!_final && _length < _buffer.Length)
            {
                int n = stream.Read(_buffer, _length, _buffer.Length - _length);
                if (n == 0) _final = true;
                _length += n;
                if (_first && _length >= 3)
                {
                    _first = false;
                    if (_buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF)
                    {
                        Buffer.BlockCopy(_buffer, 3, _buffer, 0, _length - 3);
                        _length -= 3;
                    }
                }
            }
        }

        /// <summary>The 1-based line of buffer offset <paramref name="offset"/> (offsets only grow within a chunk).</summary>
        private long LineAt(int offset)
        {
            if (offset > _counted)
            {
                _line += _buffer.AsSpan(_counted, offset - _counted).Count((byte)'\n');
                _counted = offset;
            }
            return _line;
        }

        private static string Describe(JsonTokenType t) => t switch
        {
            JsonTokenType.StartObject => "an object",
            JsonTokenType.String => "a string",
            JsonTokenType.Number => "a number",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            JsonTokenType.Null => "null",
            _ => t.ToString(),
        };
    }
}
