using RecAlign.IO;

namespace RecAlign.Tests.IO;

public class ArgumentErrorsTests
{
    [Fact]
    public void PlainDropsTheParameterSuffixAndSaysTheActualValue()
    {
        Assert.Equal("beta must be positive (got -1)",
            ArgumentErrors.Plain(new ArgumentOutOfRangeException("beta", -1.0, "beta must be positive")));
        Assert.Equal("unknown loss 'foo'", ArgumentErrors.Plain(new ArgumentException("unknown loss 'foo'", "lossType")));
        Assert.Equal("no parameter here", ArgumentErrors.Plain(new ArgumentException("no parameter here")));
    }
}
