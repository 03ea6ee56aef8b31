// A page that renders one Dashboard Studio definition with Splunk's own components (view-only Enterprise
// preset), the definition and its snapshot data set by the page as window.GHOSTHIRE_DEFINITION. Bundled
// with esbuild by tests/splunk/test_dashboard_render.py.
import React from 'react';
import { createRoot } from 'react-dom/client';
import DashboardCore from '@splunk/dashboard-core';
import { DashboardContextProvider } from '@splunk/dashboard-context';
import EnterpriseViewOnlyPreset from '@splunk/dashboard-presets/EnterpriseViewOnlyPreset';

createRoot(document.getElementById('root')).render(
  <DashboardContextProvider preset={EnterpriseViewOnlyPreset} initialDefinition={window.GHOSTHIRE_DEFINITION}>
    <DashboardCore width="100%" height="100%" />
  </DashboardContextProvider>
);
