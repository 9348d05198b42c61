using ICSharpCode.SharpZipLib;
using ICSharpCode.SharpZipLib.GZip;

namespace RecAlign.IO;

/// <summary>Decompresses a gzip file and fails on a truncated or corrupt one: SharpZipLib checks each member's
/// header, CRC-32 and length trailer (concatenated members, as bgzip writes, are read in turn). Errors become
/// <see cref="InvalidDataException"/>s naming the file.</summary>
internal sealed class VerifiedGzipStream(Stream compressed, string path) : Stream
{
    private readonly GZipInputStream _inner = new(compressed) { IsStreamOwner = true };

    public override int Read(byte[] buffer, int offset, int count)
    {
        try { return _inner.Read(buffer, offset, count); }
        catch (Exception e) when (e is SharpZipBaseException or EndOfStreamException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: truncated or corrupt gzip file ({e.Message.TrimEnd('.')}); " +
                "nothing from it is used: re-download or re-compress it", e);
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException("a gzip stream has no length");
    public override long Position { get => throw new NotSupportedException("a gzip stream has no position"); set => throw new NotSupportedException("a gzip stream cannot seek"); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("a gzip stream cannot seek");
    public override void SetLength(long value) => throw new NotSupportedException("a gzip stream cannot be written");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("a gzip stream cannot be written");
    protected override void Dispose(bool disposing) { if (disposing) _inner.Dispose(); base.Dispose(disposing); }
}
