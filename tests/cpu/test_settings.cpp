// Engine settings (core/settings.h): TF32 is off unless asked for, and the guard restores it.
#include <gtest/gtest.h>

#include "core/settings.h"

namespace ebm {
namespace {

TEST(Settings, Tf32IsOffByDefaultAndGuardRestores) {
  EXPECT_FALSE(allow_tf32());
  {
    AllowTF32Guard on(true);
    EXPECT_TRUE(allow_tf32());
    {
      AllowTF32Guard off(false);
      EXPECT_FALSE(allow_tf32());
    }
    EXPECT_TRUE(allow_tf32());
  }
  EXPECT_FALSE(allow_tf32());
  set_allow_tf32(true);
  EXPECT_TRUE(allow_tf32());
  set_allow_tf32(false);
  EXPECT_FALSE(allow_tf32());
}

}  // namespace
}  // namespace ebm
