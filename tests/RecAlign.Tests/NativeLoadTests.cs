using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests;

public class NativeLoadTests
{
    [Fact]
    public void LibTorchLoadsAndComputes()
    {
        using var a = ones(2, 3);
        using var s = a.sum();
        Assert.Equal(6f, s.item<float>());
    }
}
