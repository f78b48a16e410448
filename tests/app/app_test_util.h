// Helpers shared by the apps' end-to-end tests: fresh paths under the temporary directory, and the
// bit-for-bit comparison of two runs' latest checkpoints.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "nn/checkpoint.h"
#include "test_util.h"

namespace ebm::test {

// <temp dir>/<name>_<random number>: a path no other test run uses.
inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(rng()()))).string();
}

// The latest checkpoints of two runs hold the same tensors (weights, optimiser state, buffers...)
// and streams, bit for bit.
inline void expect_same_checkpoints(const std::string& a, const std::string& b) {
  const nn::Checkpoint ca = nn::Checkpoint::load(a + "/checkpoints/latest.safetensors"),
                       cb = nn::Checkpoint::load(b + "/checkpoints/latest.safetensors");
  ASSERT_EQ(ca.tensors().size(), cb.tensors().size());
  for (size_t i = 0; i < ca.tensors().size(); ++i) {
    EXPECT_EQ(ca.tensors()[i].first, cb.tensors()[i].first);
    EXPECT_EQ(ca.tensors()[i].second.to_vector<double>(), cb.tensors()[i].second.to_vector<double>())
        << ca.tensors()[i].first;
  }
  EXPECT_EQ(ca.rng, cb.rng);
}

}  // namespace ebm::test
