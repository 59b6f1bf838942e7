using System.Reflection;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>
/// How the kernels are compiled is part of their speed, and nothing else would catch a change to it: a kernel the JIT
/// inlined into a large caller (a job's trampoline on a worker thread) ran out of inlining budget there, called its own
/// register-tile helpers and kept the tile on the stack; the worker's half of every two-thread step then took twice as
/// long as the caller's (LSTM X = H = 512, batch 1, two threads: 7.6 ms a sequence against 3.1 with the rule below).
/// </summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class KernelCompilationTests
{
    private const BindingFlags Declared =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;

    /// <summary>Every method compiled with full optimisation from the start is compiled once, on its own: never inlined.</summary>
    [Fact]
    public void EveryAggressivelyOptimisedMethod_IsNeverInlined()
    {
        List<MethodInfo> kernels = [.. typeof(ThreadTeam).Assembly.GetTypes()
            .SelectMany(type => type.GetMethods(Declared))
            .Where(method => method.MethodImplementationFlags.HasFlag(MethodImplAttributes.AggressiveOptimization))];

        // Not vacuous: the micro-kernels, the batch-1 kernels and the cells are among them.
        Assert.True(kernels.Count >= 40, $"only {kernels.Count} methods carry AggressiveOptimization");
        Assert.Contains(kernels, m => m.DeclaringType == typeof(MicroKernel512) && m.Name == nameof(MicroKernel512.Tile));
        Assert.Contains(kernels, m => m.DeclaringType == typeof(MicroKernel512) && m.Name == nameof(MicroKernel512.Gemv));

        string[] inlinable = [.. kernels
            .Where(m => !m.MethodImplementationFlags.HasFlag(MethodImplAttributes.NoInlining))
            .Select(m => $"{m.DeclaringType!.FullName}.{m.Name}")];
        Assert.True(inlinable.Length == 0, "AggressiveOptimization without NoInlining: " + string.Join(", ", inlinable));
    }

    /// <summary>The calling thread and the workers enter a job through one compiled method.</summary>
    [Fact]
    public void TheJobTrampoline_IsNeverInlined()
    {
        Type trampoline = typeof(ThreadTeam).GetNestedType("Trampoline`1", BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("ThreadTeam has no Trampoline`1");
        MethodInfo invoke = trampoline.GetMethod("Invoke", Declared) ?? throw new InvalidOperationException("no Invoke");
        Assert.True(invoke.MethodImplementationFlags.HasFlag(MethodImplAttributes.NoInlining));
    }
}
