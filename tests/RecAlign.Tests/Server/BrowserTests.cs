using System.Text;
using System.Text.Json.Nodes;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit.Abstractions;

namespace RecAlign.Tests.Server;

/// <summary>The web page driven in a real browser (Debian's chromium + chromium-driver through Selenium), as a user
/// would: pick a model, search the catalog, build a history, ask for recommendations.</summary>
public sealed class BrowserTests(ServedModelsFixture fx, ITestOutputHelper output) : IClassFixture<ServedModelsFixture>
{
    private const string Chromium = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";

    [Fact]
    public async Task ThePageSearchesBuildsAHistoryAndShowsTheModelsRecommendations()
    {
        if (!File.Exists(Chromium) || !File.Exists(Driver))
        {
            // xunit 2 has no runtime skip: say so loudly and pass (.ci/run installs both, so CI runs it).
            output.WriteLine($"SKIPPED: the browser test needs {Chromium} and {Driver} (apt-get install chromium chromium-driver)");
            Console.WriteLine($"[skip] BrowserTests: {Chromium} or {Driver} is missing (apt-get install chromium chromium-driver)");
            return;
        }
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
            $"--user-data-dir={Path.Combine(Path.GetTempPath(), "recalign-chromium-" + Guid.NewGuid().ToString("N"))}");
        using var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver), Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        using var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        // The page re-renders lists as the user types: an element found an instant earlier may be gone when read, and
        // the condition is then asked again rather than failing the test (Selenium's documented remedy).
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
        driver.Navigate().GoToUrl(fx.Server.Addresses[0] + "/");

        // The models load into the picker; choose SASRec.
        wait.Until(d => d.FindElements(By.CssSelector("#model option")).Count == 3);
        driver.FindElement(By.CssSelector("#model option[value='sasrec']")).Click();
        wait.Until(d => d.FindElement(By.Id("model-info")).Text.Contains("catalog of 30 items"));

        // Search, and add two items to the history.
        foreach (var title in new[] { "Song 04", "Song 12" })
        {
            var search = driver.FindElement(By.Id("search"));
            search.Clear();
            search.SendKeys(title);
            wait.Until(d => d.FindElements(By.CssSelector("#search-results li")) is { Count: 1 } found && found[0].Text.StartsWith(title));
            driver.FindElement(By.CssSelector("#search-results li button.add")).Click();
        }
        wait.Until(d => d.FindElements(By.CssSelector("#history li")).Count == 2);

        var k = driver.FindElement(By.Id("k"));
        k.Clear();
        k.SendKeys("5");
        driver.FindElement(By.Id("recommend")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("#recommendations tbody tr")).Count == 5);
        var shown = driver.FindElements(By.CssSelector("#recommendations tbody td.title")).Select(e => e.Text).ToList();

        // The same request through the API gives the same list.
        var response = await fx.Client.PostAsync("/v1/recommend",
            new StringContent("""{"model":"sasrec","history":[{"id":"e4"},{"id":"e12"}],"k":5}""", Encoding.UTF8, "application/json"));
        var expected = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["items"]!.AsArray().Select(i => (string)i!["title"]!).ToList();
        Assert.Equal(expected, shown);
        Assert.DoesNotContain("Song 04", shown);
        Assert.Equal("", driver.FindElement(By.Id("error")).Text);

        // A title LM without a catalog explains itself instead of failing silently.
        driver.FindElement(By.CssSelector("#model option[value='title_lm']")).Click();
        driver.FindElement(By.Id("recommend")).Click();
        wait.Until(d => d.FindElement(By.Id("error")).Text.Contains("no catalog"));
    }
}
