"""The notebook's own decode, kept verbatim as the benchmarks' baseline."""

# ruff: noqa
import pandas as pd


# --- copied verbatim from the original notebook (cell In [5]) -------------------------
# fmt: off
def extract_ts_from_dict(ts_dict):
    '''Creating the time series data to be later added to a file'''
    passed_values = []
    blocked_values = []

    for day, values in ts_dict['passedDays'].items():
        for value in values['values']:
            passed_values.append(value)

    for day, values in ts_dict['blockedDays'].items():
        for value in values['values']:
            blocked_values.append(value)

    # Some times passed_Values or blocked values are empty
    if len(passed_values) == 0:
        passed = pd.DataFrame({'passed_val':[],'passed_tmstmp':[]})
    else:    
        passed = pd.DataFrame(passed_values).rename(columns={'value': 'passed_val', 'timeStamp': 'passed_tmstmp'})
    
    if len(blocked_values) == 0:
        blocked = pd.DataFrame({'blocked_val':[],'blocked_tmstmp':[]})
    else:    
        blocked = pd.DataFrame(blocked_values).rename(columns={'value': 'blocked_val', 'timeStamp': 'blocked_tmstmp'})

    #display(blocked.blocked_val.sum())
    ts = pd.concat([passed, blocked], axis=1).drop(['blocked_tmstmp'], axis = 1)  
    ts.set_index(['passed_tmstmp'], inplace=True, drop=True, append=False, verify_integrity=False   ) 
    ts.index = pd.to_datetime(ts.index, unit = 's')
    
    ts = ts.sort_index()
    ts.fillna(0, inplace=True)
    ts['total_val'] = ts['passed_val'] + ts['blocked_val']

    return ts
# fmt: on
# --- end of the notebook's code --------------------------------------------------------
