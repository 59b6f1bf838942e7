using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Tests.Layers;

/// <summary>
/// Threads that pay: a network splits a product across its team only when the work is large enough to gain more than
/// the dispatch costs (GemmBlocking.MinParallelMacs), so a tiny network is never slower on two threads than on one.
/// </summary>
[Trait("Category", "Layers")]
public sealed class ThreadSplitTests
{
    [Theory]
    [InlineData(CellType.Lstm, 128, false)]   // two products of 4H·H = 2¹⁶ multiply-adds a step: one thread
    [InlineData(CellType.Lstm, 256, true)]    // 2¹⁸ each: split
    [InlineData(CellType.Gru, 128, false)]
    [InlineData(CellType.Rnn, 256, false)]    // H·H = 2¹⁶
    [InlineData(CellType.Rnn, 512, true)]
    public void Step_SplitsItsProduct_OnlyWhenTheWorkPays(CellType cell, int hidden, bool split)
    {
        var o = new RecurrentNetworkOptions { Cell = cell, InputSize = hidden, HiddenSize = hidden };
        RecurrentNetwork network = TestNetworks.Create(o, seed: 2);
        using var team = new ThreadTeam(2);
        RecurrentState state = network.CreateState();
        float[] x = new float[hidden], y = new float[hidden];
        network.Step(state, x, y, team);
        long before = team.Dispatches;
        network.Step(state, x, y, team);
        Assert.Equal(split, team.Dispatches > before);
    }
}
