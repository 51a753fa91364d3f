using Xunit;

namespace DeepArch.MLNet.Tests.Reliability;

/// <summary>
/// DeepArch sets OMP_WAIT_POLICY=PASSIVE for libtorch's OpenMP workers before libtorch loads, so that idle workers sleep
/// instead of spinning on a machine other processes keep busy; a value the user set wins. Checked in a fresh process,
/// where libgomp prints the policy it read when OMP_DISPLAY_ENV is TRUE.
/// </summary>
public class NativeEnvironmentTests
{
    [Theory]
    [InlineData(null, "PASSIVE")]
    [InlineData("ACTIVE", "ACTIVE")]
    [InlineData("passive", "PASSIVE")]
    public void Libtorch_openmp_workers_wait_passively_unless_the_user_chose(string? userPolicy, string seenByOpenMp)
    {
        var (output, error) = ProcessHost.Run(new Dictionary<string, string?>
        {
            ["OMP_DISPLAY_ENV"] = "TRUE",
            ["OMP_WAIT_POLICY"] = userPolicy,
        }, "train-small");

        Assert.Contains($"OMP_WAIT_POLICY = '{seenByOpenMp}'", error);
        Assert.True(double.IsFinite(double.Parse(Assert.Single(output), System.Globalization.CultureInfo.InvariantCulture)));
    }
}
