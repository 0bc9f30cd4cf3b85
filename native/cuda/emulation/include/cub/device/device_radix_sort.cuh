// Emulation stand-in: build.sh force-includes cuda_emulation.h, which declares all of it.
#pragma once
