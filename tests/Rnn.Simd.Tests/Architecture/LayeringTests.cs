using System.Reflection;
using System.Text.RegularExpressions;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Architecture.Planted.Low;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Architecture;

/// <summary>
/// docs/ARCHITECTURE.md's rule on the compiled library: each folder is a namespace and a layer, and a layer uses
/// only itself and the layers below it. The check reads every type's declarations and method bodies (IL), so a
/// reference hidden in a method body or a lambda counts as much as one in a signature.
/// </summary>
[Trait("Category", "Architecture")]
public sealed partial class LayeringTests(ITestOutputHelper output)
{
    /// <summary>The layers, bottom first (docs/ARCHITECTURE.md).</summary>
    internal static readonly string[] Order =
        ["Internal", "Kernels", "Cells", "Parameters", "Layers", "Training", "Networks", "IO", "Import", "Serving", "Audio"];

    private static readonly Assembly Library = typeof(RecurrentNetwork).Assembly;

    [Fact]
    public void EveryType_UsesOnlyItsOwnLayerAndTheLayersBelow()
    {
        foreach ((string edge, int count) in Layering.Edges(Library, "Rnn.Simd"))
        {
            output.WriteLine($"{edge}: {count} type(s)");
        }

        List<Layering.Violation> violations = Layering.Check(Library, "Rnn.Simd", Order);
        Assert.True(violations.Count == 0, "References up the layers:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void EveryType_IsInALayer()
    {
        string[] outside = Library.GetTypes()
            .Where(t => !t.IsNested && t.Namespace is not null)
            .Where(t => Layering.LayerOf(t, "Rnn.Simd") is not { } layer || !Order.Contains(layer))
            .Select(t => t.FullName!).ToArray();
        Assert.True(outside.Length == 0, "Types outside every layer: " + string.Join(", ", outside));
    }

    [Fact]
    public void EverySourceFile_DeclaresTheNamespaceOfItsFolder()
    {
        string root = Path.Combine(RepositoryRoot(), "src", "Rnn.Simd");
        var wrong = new List<string>();
        foreach (string file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, Path.GetDirectoryName(file)!);
            if (relative.Split(Path.DirectorySeparatorChar)[0] is "obj" or "bin")
            {
                continue;
            }

            string expected = "Rnn.Simd" + (relative == "." ? "" : "." + relative.Replace(Path.DirectorySeparatorChar, '.'));
            foreach (Match m in NamespaceDeclaration().Matches(File.ReadAllText(file)))
            {
                if (m.Groups[1].Value != expected)
                {
                    wrong.Add($"{Path.GetRelativePath(root, file)}: namespace {m.Groups[1].Value}, folder says {expected}");
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    /// <summary>The check itself finds upward references of every kind (planted in this test assembly).</summary>
    [Fact]
    public void TheCheck_FindsPlantedUpwardReferences()
    {
        List<Layering.Violation> found = Layering.Check(typeof(InField).Assembly, "Rnn.Simd.Tests.Architecture.Planted", ["Low", "High"]);
        output.WriteLine(string.Join("\n", found));

        Type[] planted = [typeof(InField), typeof(InParameter), typeof(InBody), typeof(InLambda), typeof(InGenericArgument)];
        Assert.Equal(planted.OrderBy(t => t.Name), found.Select(v => v.From).OrderBy(t => t.Name));
        Assert.Equal(typeof(Planted.High.Gadget), Assert.Single(found, v => v.From == typeof(InLambda)).To);
        Assert.All(found.Where(v => v.From != typeof(InLambda)), v => Assert.Equal(typeof(Planted.High.Widget), v.To));
    }

    internal static string RepositoryRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Rnn.Simd.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("Rnn.Simd.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();
}
