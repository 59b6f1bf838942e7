using System.Reflection;

namespace Rnn.Simd.Tests.Architecture;

/// <summary>
/// The layering rule of docs/ARCHITECTURE.md, checked on a compiled assembly: each type's layer is the
/// namespace segment after the root (<c>Rnn.Simd.Kernels.Gemm</c> → Kernels), and a type may refer only to
/// types of its own layer or of the layers listed before it.
/// </summary>
internal static class Layering
{
    /// <summary>One reference that breaks the rule.</summary>
    public readonly record struct Violation(Type From, Type To, string Where, string Reason)
    {
        public override string ToString() => $"{From.FullName} → {To.FullName} ({Where}): {Reason}";
    }

    /// <summary>The layer of <paramref name="type"/> under <paramref name="root"/>, or null outside it.</summary>
    public static string? LayerOf(Type type, string root)
    {
        string? ns = TypeReferences.Outermost(type).Namespace;
        if (ns is null || !(ns == root || ns.StartsWith(root + ".", StringComparison.Ordinal)))
        {
            return null;
        }

        string rest = ns.Length == root.Length ? "" : ns[(root.Length + 1)..];
        int dot = rest.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? rest : rest[..dot];
    }

    /// <summary>Every reference in <paramref name="assembly"/> that goes up the <paramref name="order"/> (bottom first).</summary>
    public static List<Violation> Check(Assembly assembly, string root, IReadOnlyList<string> order)
    {
        var violations = new List<Violation>();
        foreach (Type type in assembly.GetTypes().Where(t => !t.IsNested))
        {
            string? layer = LayerOf(type, root);
            if (layer is null)
            {
                continue; // outside the root: <PrivateImplementationDetails>, other compiler-made types
            }

            int rank = IndexOf(order, layer);
            if (rank < 0)
            {
                violations.Add(new(type, type, "namespace", $"'{layer}' is not a layer ({string.Join(" ← ", order)})"));
                continue;
            }

            foreach (Type nested in Nest(type))
            {
                foreach ((Type target, string where) in TypeReferences.Of(nested, assembly))
                {
                    string? targetLayer = LayerOf(target, root);
                    int targetRank = targetLayer is null ? -1 : IndexOf(order, targetLayer);
                    if (targetRank > rank)
                    {
                        violations.Add(new(type, target, nested == type ? where : $"{nested.Name}.{where}",
                            $"{layer} may not use {targetLayer}, a layer above it"));
                    }
                }
            }
        }

        return violations;
    }

    /// <summary>Layer-to-layer reference counts, for the picture in docs/ARCHITECTURE.md.</summary>
    public static SortedDictionary<string, int> Edges(Assembly assembly, string root)
    {
        var edges = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (Type type in assembly.GetTypes().Where(t => !t.IsNested))
        {
            string? layer = LayerOf(type, root);
            if (layer is null)
            {
                continue;
            }

            foreach (Type target in Nest(type).SelectMany(n => TypeReferences.Of(n, assembly).Keys).Distinct())
            {
                string? targetLayer = LayerOf(target, root);
                if (targetLayer is not null && targetLayer != layer)
                {
                    string key = $"{(layer.Length == 0 ? "(root)" : layer)} → {(targetLayer.Length == 0 ? "(root)" : targetLayer)}";
                    edges[key] = edges.GetValueOrDefault(key) + 1;
                }
            }
        }

        return edges;
    }

    private static int IndexOf(IReadOnlyList<string> order, string layer)
    {
        for (int i = 0; i < order.Count; i++)
        {
            if (order[i] == layer)
            {
                return i;
            }
        }

        return -1;
    }

    private static IEnumerable<Type> Nest(Type type)
    {
        yield return type;
        foreach (Type nested in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
        {
            foreach (Type inner in Nest(nested))
            {
                yield return inner;
            }
        }
    }
}
