// The Clock lives in the public API (isle/clock.h); internal code keeps
// including it from here.
#pragma once

#include "isle/clock.h"
