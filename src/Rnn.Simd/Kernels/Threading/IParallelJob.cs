namespace Rnn.Simd.Kernels.Threading;

/// <summary>
/// A unit of parallel work: <see cref="ThreadTeam"/> calls <see cref="Execute"/> once for every part index
/// 0 … parts−1, each on a different thread. Implemented by stack-allocated structs, so dispatching
/// allocates nothing.
/// </summary>
internal interface IParallelJob
{
    /// <summary>Runs part <paramref name="part"/>. Parts must write disjoint outputs (threads never share a reduction).</summary>
    void Execute(int part);
}
