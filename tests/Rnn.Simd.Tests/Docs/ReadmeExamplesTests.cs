using System.Text.RegularExpressions;
using Rnn.Simd.Tests.Architecture;

namespace Rnn.Simd.Tests.Docs;

/// <summary>
/// The README's code examples are tests (marked <c>// ---- README: "name" (begin)</c> … <c>(end)</c>, with
/// <c>(pause)</c> … <c>(resume)</c> around the test's own lines); this checks that the README still shows them:
/// every code line of an example, outside its pauses, appears in README.md in the same order (indentation aside).
/// The README may hold lines of its own (a longer loop, comments); it may not lose or reorder the test's.
/// </summary>
[Trait("Category", "Docs")]
public sealed partial class ReadmeExamplesTests
{
    [Fact]
    public void EveryExampleTheTestsRun_IsInTheReadme_LineForLine()
    {
        string root = LayeringTests.RepositoryRoot();
        string[] readme = [.. File.ReadAllLines(Path.Combine(root, "README.md")).Select(l => l.Trim())];
        var examples = new List<(string Name, string File, List<string> Lines)>();
        foreach (string file in Directory.EnumerateFiles(Path.Combine(root, "tests"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) || file.EndsWith(nameof(ReadmeExamplesTests) + ".cs", StringComparison.Ordinal))
            {
                continue;
            }

            (string Name, List<string> Lines)? open = null;
            bool paused = false;
            foreach (string raw in File.ReadLines(file))
            {
                string line = raw.Trim();
                Match begin = Marker().Match(line);
                if (begin.Success && begin.Groups[2].Value == "begin")
                {
                    open = (begin.Groups[1].Value, new List<string>());
                    continue;
                }

                if (begin.Success && begin.Groups[2].Value == "end" && open is { } done)
                {
                    examples.Add((done.Name, Path.GetRelativePath(root, file), done.Lines));
                    open = null;
                    continue;
                }

                if (line.StartsWith("// ---- README (pause)", StringComparison.Ordinal) || line.StartsWith("// ---- README (resume)", StringComparison.Ordinal))
                {
                    paused = line.Contains("pause", StringComparison.Ordinal);
                    continue;
                }

                if (open is { } current && !paused && line.Length > 0)
                {
                    current.Lines.Add(line);
                }
            }
        }

        Assert.True(examples.Count >= 4, $"Found {examples.Count} README examples in the tests; expected at least 4.");
        foreach ((string name, string file, List<string> lines) in examples)
        {
            Assert.NotEmpty(lines);
            int at = 0;
            foreach (string line in lines)
            {
                while (at < readme.Length && readme[at] != line)
                {
                    at++;
                }

                Assert.True(at < readme.Length, $"README example \"{name}\" ({file}): README.md does not show, in order, the line\n    {line}");
                at++;
            }
        }
    }

    [GeneratedRegex("""^// ---- README: "([^"]+)" \((begin|end)\) ----$""")]
    private static partial Regex Marker();
}
