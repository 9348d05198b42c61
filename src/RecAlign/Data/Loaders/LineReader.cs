using System.Buffers;
using System.IO.Compression;
using System.Text;
using System.Text.Unicode;

namespace RecAlign.Data.Loaders;

/// <summary>How a text file's bytes become characters.</summary>
public enum TextEncodingMode
{
    /// <summary>Strict UTF-8: an invalid byte sequence is a <see cref="DataFormatException"/>.</summary>
    Utf8,
    /// <summary>ISO-8859-1 (every byte is a character): old MovieLens files.</summary>
    Latin1,
    /// <summary>UTF-8 when the line is valid UTF-8, else Latin-1 (files that mix both).</summary>
    Utf8OrLatin1,
}

/// <summary>Streams a text file line by line without materialising it: reads bytes into a reusable buffer, splits on
/// '\n' (dropping a trailing '\r' and a leading BOM), decodes each line into a reusable char buffer. Files ending in
/// <c>.gz</c> are decompressed on the fly. Line numbers are 1-based.</summary>
internal sealed class LineReader : IDisposable
{
    private readonly Stream _stream;
    private readonly TextEncodingMode _mode;
    private byte[] _buf = ArrayPool<byte>.Shared.Rent(1 << 16);
    private char[] _chars = ArrayPool<char>.Shared.Rent(1 << 12);
    private int _start, _end;
    private bool _eof;
    private int _lineStart, _lineLength, _charLength;

    /// <summary>Longest line accepted: a file without line breaks must not grow the buffer without bound.</summary>
    public const int MaxLineBytes = 256 << 20;

    public string File { get; }
    public string DisplayName { get; }
    public long LineNumber { get; private set; }

    public LineReader(string path, TextEncodingMode mode)
    {
        File = path;
        DisplayName = Path.GetFullPath(path);
        _mode = mode;
        if (!System.IO.File.Exists(path))
            throw new DataFormatException(path, 0, null, "file not found");
        _stream = RecAlign.IO.AtomicFile.OpenRead(path);
    }

    /// <summary>Reads an open stream (decompressed already), reporting errors against <paramref name="fileName"/>.</summary>
    public LineReader(Stream stream, string fileName, TextEncodingMode mode)
    {
        File = fileName;
        DisplayName = fileName;
        _mode = mode;
        _stream = stream;
    }

    /// <summary>The current line's raw bytes (no line terminator).</summary>
    public ReadOnlySpan<byte> Bytes => _buf.AsSpan(_lineStart, _lineLength);

    /// <summary>The current line decoded with the reader's <see cref="TextEncodingMode"/>; throws the line's decoding
    /// error (kept until first use, so that a skip policy can catch it like any other row error).</summary>
    public ReadOnlySpan<char> Chars => DecodeError is { } e ? throw e : _chars.AsSpan(0, _charLength);

    /// <summary>Why the current line could not be decoded, or null.</summary>
    public DataFormatException? DecodeError { get; private set; }

    public string Text => new(Chars);

    /// <summary>Advances to the next line; false at end of file.</summary>
    public bool Next()
    {
        while (true)
        {
            int nl = _buf.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                SetLine(_start, nl);
                _start += nl + 1;
                return true;
            }
            if (_eof)
            {
                if (_end > _start)
                {
                    SetLine(_start, _end - _start);
                    _start = _end;
                    return true;
                }
                return false;
            }
            Fill();
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buf.Length)
        {
            if (_buf.Length >= MaxLineBytes)
                throw new DataFormatException(File, LineNumber + 1, null, $"line longer than {MaxLineBytes >> 20} MiB (not a line-based text file?)");
            var bigger = ArrayPool<byte>.Shared.Rent(_buf.Length * 2);
            Buffer.BlockCopy(_buf, 0, bigger, 0, _end);
            ArrayPool<byte>.Shared.Return(_buf);
            _buf = bigger;
        }
        int n;
        try { n = _stream.Read(_buf, _end, _buf.Length - _end); }
        catch (InvalidDataException e) { throw new DataFormatException(File, LineNumber + 1, null, e.Message.Replace(DisplayName + ": ", ""), e); }
        if (n == 0) _eof = true;
        _end += n;
    }

    private void SetLine(int start, int length)
    {
        LineNumber++;
        if (LineNumber == 1 && length >= 3 && _buf[start] == 0xEF && _buf[start + 1] == 0xBB && _buf[start + 2] == 0xBF)
        {
            start += 3;
            length -= 3;
        }
        if (length > 0 && _buf[start + length - 1] == (byte)'\r') length--;
        _lineStart = start;
        _lineLength = length;
        Decode();
    }

    private void Decode()
    {
        DecodeError = null;
        var bytes = Bytes;
        if (_chars.Length < bytes.Length)
        {
            ArrayPool<char>.Shared.Return(_chars);
            _chars = ArrayPool<char>.Shared.Rent(bytes.Length);
        }
        if (_mode == TextEncodingMode.Latin1)
        {
            _charLength = Encoding.Latin1.GetChars(bytes, _chars);
            return;
        }
        var status = Utf8.ToUtf16(bytes, _chars, out int read, out int written, replaceInvalidSequences: false);
        if (status == System.Buffers.OperationStatus.Done)
        {
            _charLength = written;
            return;
        }
        if (_mode == TextEncodingMode.Utf8OrLatin1)
        {
            _charLength = Encoding.Latin1.GetChars(bytes, _chars);
            return;
        }
        _charLength = 0;
        DecodeError = new DataFormatException(File, LineNumber, null,
            $"invalid UTF-8 byte 0x{bytes[read]:X2} at byte {read + 1} of the line (expected UTF-8 text)");
    }

    public void Dispose()
    {
        _stream.Dispose();
        ArrayPool<byte>.Shared.Return(_buf);
        ArrayPool<char>.Shared.Return(_chars);
        _buf = [];
        _chars = [];
    }
}
