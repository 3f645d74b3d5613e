"use strict";
// Placeholder: the catalog and Device Info are filled in from /api/catalog and /api/device.
